"""The pages every role shares: home, language, health."""
