"""Discovery from the logs a team already keeps: proxies, Zeek, DNS resolvers, SWG exports.
It owns the log formats, the per-log offsets and the parallel scan; it classifies with the
catalog and policy and writes through the inventory on a ``runtime.Core``, nothing else of
ours.
"""
