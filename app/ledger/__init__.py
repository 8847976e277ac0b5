"""The points ledger: the only truth about points.

Every village has accounts: one per household (its balance may never go below
zero) and system accounts: issuance (where earned points come from, so its
balance runs negative as points are issued), redemption (where spent points go),
adjustment and expiry. A business operation posts one journal of a JournalKind
(the database refuses any other) made of transfers; a transfer moves a positive
whole number of points from one account (debit) to another (credit), so every
journal balances by construction and the balances of a village always sum to
zero. Each transfer writes one entry per account, with the account's version and
its balance after the entry. Journals, transfers and entries are append-only
(triggers refuse UPDATE and DELETE); a mistake is undone by a reversal journal
that points at what it reverses, at most once.
Only app/ledger/services.py writes these tables; reads.py reads them and
verify.py checks every rule over one snapshot of its own.
"""
