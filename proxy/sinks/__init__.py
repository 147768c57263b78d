"""SIEM sinks: detections out to files, syslog, Splunk HEC and webhooks (docs/siem.md)."""
