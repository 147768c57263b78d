"""A throwaway OpenLDAP server (Debian's slapd) on loopback, for the directory tests."""

from __future__ import annotations

import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from tests.net import closed_port

SLAPD = Path("/usr/sbin/slapd")
SLAPADD = Path("/usr/sbin/slapadd")
SUFFIX = "dc=example,dc=com"
ADMIN_DN = f"cn=admin,{SUFFIX}"
ADMIN_PASSWORD = "admin-secret"
PEOPLE = f"ou=people,{SUFFIX}"
GROUPS = f"ou=groups,{SUFFIX}"

# alice: engineering (groupOfNames) and ai-approved (posixGroup, by uid); bob: none.
ENTRIES = f"""\
dn: {SUFFIX}
objectClass: dcObject
objectClass: organization
o: Example
dc: example

dn: {PEOPLE}
objectClass: organizationalUnit
ou: people

dn: uid=alice,{PEOPLE}
objectClass: inetOrgPerson
uid: alice
cn: Alice
sn: Example
userPassword: alice-pw

dn: uid=bob,{PEOPLE}
objectClass: inetOrgPerson
uid: bob
cn: Bob
sn: Example
userPassword: bob-pw

dn: {GROUPS}
objectClass: organizationalUnit
ou: groups

dn: cn=engineering,{GROUPS}
objectClass: groupOfNames
cn: engineering
member: uid=alice,{PEOPLE}

dn: cn=ai-approved,{GROUPS}
objectClass: posixGroup
cn: ai-approved
gidNumber: 5000
memberUid: alice
"""


def _config(folder: Path) -> str:
    schemas = "\n".join(
        f"include /etc/ldap/schema/{name}.schema"
        for name in ("core", "cosine", "inetorgperson", "nis")
    )
    return (
        f"{schemas}\nmodulepath /usr/lib/ldap\nmoduleload back_mdb\n"
        f'pidfile {folder}/slapd.pid\ndatabase mdb\nsuffix "{SUFFIX}"\n'
        f'rootdn "{ADMIN_DN}"\nrootpw {ADMIN_PASSWORD}\ndirectory {folder}/db\n'
    )


@dataclass
class LdapServer:
    """slapd serving ``ENTRIES`` on 127.0.0.1:``port``; stop and start it at will."""

    folder: Path
    port: int
    process: subprocess.Popen[bytes] | None = None

    @classmethod
    def create(cls, folder: Path) -> LdapServer:
        (folder / "db").mkdir(parents=True)
        (folder / "slapd.conf").write_text(_config(folder))
        (folder / "entries.ldif").write_text(ENTRIES)
        subprocess.run(
            [str(SLAPADD), "-f", str(folder / "slapd.conf"), "-l", str(folder / "entries.ldif")],
            check=True, capture_output=True,
        )  # fmt: skip
        return cls(folder, closed_port())

    def start(self) -> None:
        self.process = subprocess.Popen(
            [str(SLAPD), "-f", str(self.folder / "slapd.conf"),
             "-h", f"ldap://127.0.0.1:{self.port}/", "-d", "0"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return
            except OSError:
                time.sleep(0.05)
        raise AssertionError("slapd did not start")

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=10)
            self.process = None

    def proxyauth_spec(self) -> str:
        """mitmproxy's ``proxyauth`` value that authenticates users against this server."""
        return (
            f"ldap:127.0.0.1:{self.port}:{ADMIN_DN}:{ADMIN_PASSWORD}:{PEOPLE}?search_filter_key=uid"
        )
