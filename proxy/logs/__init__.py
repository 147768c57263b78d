"""Discovery from the logs a team already keeps: proxies, Zeek, DNS resolvers, SWG exports.
It owns the log formats, the per-log offsets and the parallel scan; it classifies with the
catalog and policy, masks secrets in paths with the DLP's secret detectors, and writes
through the inventory on a ``runtime.Core``, nothing else of ours.
"""
