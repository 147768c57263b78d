"""Alert rules: immediate webhook messages for what a SOC must see now (docs/siem.md)."""
