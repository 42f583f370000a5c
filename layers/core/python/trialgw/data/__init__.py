"""Data files of the trial's rules (read with `importlib.resources`), e.g. `country_rules.json`."""
