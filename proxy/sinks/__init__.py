"""SIEM sinks: detections out to files, syslog, Splunk HEC and webhooks (docs/siem.md). It
owns the record formats (native, ECS, OCSF, CEF), the transports and delivery with its own
queue and spool per sink; it imports the inventory's event type, metrics and the sink
settings' shape, nothing else of ours.
"""
