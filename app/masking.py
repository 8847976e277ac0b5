"""Names and phone numbers as pages show them to people who need not read them whole.

On the ground floor: the door page, the counter, the board and the office all mask the
same way, and none of them imports another's page for it.
"""


def mask_name(name: str) -> str:
    """Hide a name fit for a door: 马秀利 -> 马*利, 马利 -> 马*."""
    if len(name) <= 1:
        return "*"
    if len(name) == 2:
        return name[0] + "*"
    return name[0] + "*" * (len(name) - 2) + name[-1]


def mask_phone(phone: str | None) -> str:
    """Show enough of a phone number to tell two households apart: 138****1234."""
    if not phone:
        return ""
    digits = phone.replace(" ", "").replace("-", "")
    if len(digits) <= 4:
        return "*" * len(digits)
    if len(digits) < 8:
        return digits[:2] + "*" * (len(digits) - 4) + digits[-2:]
    return digits[:3] + "*" * (len(digits) - 7) + digits[-4:]
