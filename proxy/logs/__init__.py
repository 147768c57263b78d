"""Discovery from the logs a team already keeps: proxies, Zeek, DNS resolvers, SWG exports."""
