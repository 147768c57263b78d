"""A labelled corpus of secrets by family, in the places people paste them.

Every value is built here from the token's published format (prefix, alphabet, length,
structure), not from the detectors' regexes, and set in realistic surroundings: ``.env``
lines, YAML, JSON, TOML, curl commands, shell history, code and chat prose. Each family
also has hard negatives: placeholders, template variables, documentation stand-ins and
low-entropy or structural look-alikes of the same format. Deterministic per seed.

Not on the production import path: used by bench/dlp_eval.py and tests/dlp.
"""

from __future__ import annotations

import base64
import json
import random
import string
import uuid
from collections.abc import Callable
from dataclasses import dataclass

B62 = string.ascii_letters + string.digits
HEX = "0123456789abcdef"
URLSAFE = B62 + "_-"
UPPER_DIGITS = string.ascii_uppercase + string.digits
PASSWORD_CHARS = B62 + "!#%&*+-.:=?@^_~"


@dataclass(frozen=True)
class Sample:
    family: str
    text: str
    start: int  # the secret's span in text; -1 for a hard negative
    end: int
    context: str

    @property
    def positive(self) -> bool:
        return self.start >= 0


def _r(rng: random.Random, alphabet: str, n: int) -> str:
    return "".join(rng.choice(alphabet) for _ in range(n))


def _digits(rng: random.Random, low: int, high: int) -> str:
    return str(rng.randint(1, 9)) + _r(rng, string.digits, rng.randint(low, high) - 1)


def _uuid(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def _b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _password(rng: random.Random) -> str:
    while True:
        value = _r(rng, PASSWORD_CHARS, rng.randint(12, 22))
        if any(c.isdigit() for c in value) and any(c.isalpha() for c in value):
            return value


# --- contexts: where a value of a family is pasted -------------------------------------------

# Each template holds {name} (a variable name the family uses) and {v} (the value).
CONTEXTS = {
    "env": "{name}={v}\nLOG_LEVEL=info\n",
    "yaml": "service:\n  region: eu-west-1\n  {lname}: {v}\n  retries: 3\n",
    "json": '{{"endpoint": "https://api.internal.test/v1", "{lname}": "{v}", "timeout": 30}}',
    "toml": '[client]\nbase_url = "https://api.internal.test"\n{lname} = "{v}"\n',
    "curl": "curl -sS -X POST https://api.internal.test/v1/jobs -H 'X-Request: 1' -d 'token={v}'",
    "shell": "  501  cd deploy\n  502  export {name}={v}\n  503  ./run.sh --verbose\n",
    "code": 'import client\n\nconn = client.connect(host="db.internal", {lname}="{v}")\n',
    "prose": "hey, I keep getting 401 with {v} - is this key revoked or is it the scopes?",
    "chat": "Here is the {lname} from the vault: {v}\nWhy does the SDK reject it since Monday?",
}


def _in_context(
    family: str, context: str, value: str, name: str, template: str | None = None
) -> Sample:
    template = template or CONTEXTS[context]
    marker = "\x00"
    text = template.format(name=name.upper(), lname=name.lower(), v=marker)
    start = text.index(marker)
    return Sample(family, text.replace(marker, value), start, start + len(value), context)


def _negative(family: str, text: str, context: str = "negative") -> Sample:
    return Sample(family, text, -1, -1, context)


@dataclass(frozen=True)
class Family:
    name: str
    var: str  # the variable name the value is usually assigned to
    values: tuple[Callable[[random.Random], str], ...]
    negatives: Callable[[random.Random], list[str]]
    contexts: tuple[str, ...] = tuple(CONTEXTS)


# --- value makers, one per format ---------------------------------------------------------


def slack_bot(rng: random.Random) -> str:
    suffix = _r(rng, B62, rng.choice([24, 24, 32]))
    return f"xoxb-{_digits(rng, 10, 13)}-{_digits(rng, 10, 13)}-{suffix}"


def slack_user(rng: random.Random) -> str:
    ids = "-".join(_digits(rng, 10, 13) for _ in range(3))
    return f"xoxp-{ids}-{_r(rng, HEX, rng.choice([32, 64]))}"


def slack_legacy(rng: random.Random) -> str:
    kind = rng.choice(["xoxs", "xoxa-2", "xoxr", "xoxo"])
    ids = "-".join(_digits(rng, 10, 12) for _ in range(rng.randint(2, 3)))
    return f"{kind}-{ids}-{_r(rng, HEX, 64)}"


def slack_config(rng: random.Random) -> str:
    prefix = rng.choice(["xoxe.xoxp-1-", "xoxe.xoxb-1-", "xoxe-1-"])
    return prefix + _r(rng, UPPER_DIGITS + string.ascii_lowercase, rng.randint(140, 166))


def slack_webhook(rng: random.Random) -> str:
    team, hook = _r(rng, UPPER_DIGITS, 10), _r(rng, UPPER_DIGITS, 10)
    if rng.random() < 0.7:
        return f"https://hooks.slack.com/services/T{team}/B{hook}/{_r(rng, B62, 24)}"
    flow = _r(rng, string.digits, 18)
    return f"https://hooks.slack.com/workflows/T{team}/A{hook}/{flow}/{_r(rng, B62, 32)}"


def slack_negatives(rng: random.Random) -> list[str]:
    return [
        "SLACK_BOT_TOKEN=xoxb-your-bot-token",
        "token: xoxb-1234567890-1234567890-abcdefghijklmnopqrstuvwx",
        "xoxp-XXXXXXXXXXXX-XXXXXXXXXXXX-XXXXXXXXXXXX-XXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX",
        "webhook: https://hooks.slack.com/services/T00000000/B00000000/XXXXXXXXXXXXXXXXXXXXXXXX",
        "post to https://hooks.slack.com/services/<team>/<channel>/<secret>",
        'SLACK_WEBHOOK_URL="${SLACK_WEBHOOK_URL}"',
        "Slack tokens start with xoxb- (bot) or xoxp- (user); never paste them here.",
        "xoxb-" + "1" * 12 + "-" + "1" * 12 + "-" + "a" * 24,
    ]


def stripe_key(rng: random.Random) -> str:
    prefix = rng.choice(["sk_live_", "rk_live_", "sk_live_51", "rk_live_51"])
    return prefix + _r(rng, B62, rng.choice([24, 34, 97]))


def stripe_negatives(rng: random.Random) -> list[str]:
    return [
        f"STRIPE_PUBLISHABLE_KEY=pk_live_{_r(rng, B62, 24)}",
        "STRIPE_SECRET_KEY=sk_live_xxxxxxxxxxxxxxxxxxxxxxxx",
        "stripe.api_key = 'sk_live_YOUR_SECRET_KEY_HERE'",
        "sk_live_1234567890abcdefghijklmnop",
        "rk_live_" + "0" * 24,
        "Use a restricted key (rk_live_...) instead of your secret key.",
        'STRIPE_KEY="{{ stripe_secret_key }}"',
    ]


def _jwt_part(obj: object, pretty: bool = False) -> str:
    text = json.dumps(obj, indent=2) if pretty else json.dumps(obj, separators=(",", ":"))
    return _b64url(text.encode())


def jwt_token(rng: random.Random) -> str:
    claims = {
        "sub": _uuid(rng),
        "iss": "https://auth.internal.test/",
        "exp": rng.randint(1_700_000_000, 1_900_000_000),
    }
    style = rng.randrange(5)
    if style == 0:
        header = _jwt_part({"alg": "HS256", "typ": "JWT"})
    elif style == 1:  # key id first, unusual typ
        header = _jwt_part({"kid": _r(rng, HEX, 16), "typ": "at+jwt", "alg": "RS256"})
    elif style == 2:  # pretty-printed header: ewogIC...
        header = _jwt_part({"alg": "ES256", "typ": "JWT"}, pretty=True)
    elif style == 3:  # spaces after the brace: eyAi...
        header = _b64url(b'{ "alg": "PS256", "typ": "JWT" }')
    else:  # JWE compact: five parts
        header = _jwt_part({"alg": "RSA-OAEP", "enc": "A256GCM"})
        parts = [_b64url(rng.randbytes(n)) for n in (256, 12, 180, 16)]
        return ".".join([header, *parts])
    return f"{header}.{_jwt_part(claims)}.{_b64url(rng.randbytes(rng.choice([32, 64, 256])))}"


def jwt_negatives(rng: random.Random) -> list[str]:
    docs = (
        "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIiwi"
        "aWF0IjoxNTE2MjM5MDIyfQ.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c"
    )
    no_alg = _jwt_part({"foo": "bar", "n": 1}) + "." + _jwt_part({"x": 2}) + ".abcdefgh"
    unsigned = _jwt_part({"alg": "HS256"}) + "." + _jwt_part({"sub": "x"}) + "."
    return [
        f"the jwt.io sample {docs} decodes to John Doe",
        "Authorization: Bearer <jwt>",
        f"config blob {no_alg}",
        f"truncated token {unsigned}",
        "JWTs look like eyJhbGciOi...eyJzdWIi...signature",
        "the file eyJhbGci.json.bak was restored",
    ]


_PEM_BODY_LINE = 64


def _pem(rng: random.Random, label: str, size: int) -> str:
    body = base64.b64encode(rng.randbytes(size)).decode()
    lines = [body[i : i + _PEM_BODY_LINE] for i in range(0, len(body), _PEM_BODY_LINE)]
    return f"-----BEGIN {label}-----\n" + "\n".join(lines) + f"\n-----END {label}-----"


def private_key(rng: random.Random) -> str:
    kinds = ["RSA ", "", "EC ", "OPENSSH ", "ENCRYPTED "]
    label = rng.choice(kinds) + "PRIVATE KEY"
    return _pem(rng, label, rng.choice([121, 400, 1190]))


def pem_negatives(rng: random.Random) -> list[str]:
    return [
        _pem(rng, "PUBLIC KEY", 294),
        _pem(rng, "CERTIFICATE", 700),
        "-----BEGIN RSA PRIVATE KEY-----\n...\n-----END RSA PRIVATE KEY-----",
        "-----BEGIN PRIVATE KEY-----\n<your private key here>\n-----END PRIVATE KEY-----",
        "Paste the block starting with -----BEGIN OPENSSH PRIVATE KEY----- into the form.",
        '"private_key": "-----BEGIN PRIVATE KEY-----\\nYOUR_KEY\\n-----END PRIVATE KEY-----\\n"',
    ]


def service_account(rng: random.Random) -> str:
    project = rng.choice(["billing-prod", "ml-train-42", "data-lake-eu"])
    key = _pem(rng, "PRIVATE KEY", 1190).replace("\n", "\\n") + "\\n"
    fields = {
        "type": "service_account",
        "project_id": project,
        "private_key_id": _r(rng, HEX, 40),
        "private_key": "\x01",
        "client_email": f"runner@{project}.iam.gserviceaccount.com",
        "client_id": _r(rng, string.digits, 21),
        "token_uri": "https://oauth2.googleapis.com/token",
    }
    keys = list(fields)
    if rng.random() < 0.5:
        rng.shuffle(keys)
    text = json.dumps({k: fields[k] for k in keys}, indent=rng.choice([2, None]))
    return text.replace('"\\u0001"', f'"{key}"')


def gcp_negatives(rng: random.Random) -> list[str]:
    return [
        json.dumps(
            {
                "type": "external_account",
                "audience": "//iam.googleapis.com/projects/1/locations/global/x",
                "subject_token_type": "urn:ietf:params:oauth:token-type:jwt",
                "token_url": "https://sts.googleapis.com/v1/token",
            },
            indent=2,
        ),
        json.dumps(
            {
                "type": "service_account",
                "project_id": "my-project",
                "private_key_id": "your-private-key-id",
                "private_key": "-----BEGIN PRIVATE KEY-----\\nREPLACE_ME\\n"
                "-----END PRIVATE KEY-----\\n",
                "client_email": "name@my-project.iam.gserviceaccount.com",
            },
            indent=2,
        ),
        "Download the service_account JSON key and set GOOGLE_APPLICATION_CREDENTIALS to it.",
    ]


def k8s_secret(rng: random.Random) -> str:
    name = rng.choice(["db-credentials", "api-keys", "registry-auth"])
    values = {
        "username": base64.b64encode(rng.choice([b"admin", b"svc_app", b"deploy"])).decode(),
        "password": base64.b64encode(_password(rng).encode()).decode(),
    }
    data = "".join(f"  {k}: {v}\n" for k, v in values.items())
    if rng.random() < 0.5:  # as kubectl get -o yaml prints it: keys sorted, data first
        return (
            f"apiVersion: v1\ndata:\n{data}kind: Secret\nmetadata:\n  name: {name}\ntype: Opaque\n"
        )
    return f"apiVersion: v1\nkind: Secret\nmetadata:\n  name: {name}\ntype: Opaque\ndata:\n{data}"


def k8s_negatives(rng: random.Random) -> list[str]:
    b64 = base64.b64encode
    return [
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: app\ndata:\n  LOG_LEVEL: info\n"
        "  FEATURES: YWxwaGEsYmV0YQ==\n",
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: db\ntype: Opaque\ndata:\n"
        "  password: <base64-encoded-password>\n",
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: db\ntype: Opaque\ndata:\n"
        f"  username: {b64(b'admin').decode()}\n  password: {b64(b'changeme').decode()}\n",
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: tls\ntype: Opaque\ndata: {}\n",
        "kind: Secret\nstringData:\n  password: ${DB_PASSWORD}\n",
    ]


def curl_line(rng: random.Random) -> tuple[str, str]:
    """A curl command and the credential in it."""
    host = rng.choice(["api.internal.test", "registry.corp.test", "jenkins.build.test"])
    style = rng.randrange(5)
    if style == 0:
        secret = _password(rng)
        return f"curl -u deploy:{secret} https://{host}/api/v2/status", secret
    if style == 1:
        secret = _password(rng)
        return f'curl --user "admin:{secret}" -X POST https://{host}/job/build', secret
    if style == 2:
        secret = _r(rng, URLSAFE, rng.randint(30, 60))
        return f"curl -H 'Authorization: Bearer {secret}' https://{host}/v1/me", secret
    if style == 3:
        secret = _r(rng, HEX, 40)
        return f'curl -s -H "Authorization: token {secret}" https://{host}/user', secret
    secret = _r(rng, B62, 32)
    return f"curl https://{host}/v1/items --header 'X-API-Key: {secret}'", secret


def curl_negatives(rng: random.Random) -> list[str]:
    return [
        "curl -u $API_USER:$API_TOKEN https://api.internal.test/status",
        'curl -u "${USER}:${PASSWORD}" https://api.internal.test/status',
        "curl -H 'Authorization: Bearer <token>' https://api.internal.test/v1/me",
        'curl -H "Authorization: Bearer $TOKEN" https://api.internal.test/v1/me',
        "curl -H 'Content-Type: application/json' -d '{\"a\": 1}' https://api.internal.test",
        "curl -u user:password https://api.internal.test/status",
        'curl -H "X-API-Key: YOUR_API_KEY" https://api.internal.test/v1/items',
        "curl -u admin: https://api.internal.test/  # curl prompts for the password",
        "curl -H 'Authorization: Bearer xxxxxxxxxxxxxxxxxxxxxxxxxxxxxx' https://x.test",
    ]


def _der_len(n: int) -> bytes:
    return b"\x82" + n.to_bytes(2, "big")


def pkcs12_blob(rng: random.Random) -> str:
    """Base64 of a PKCS#12 PFX: SEQUENCE { version 3, ContentInfo(pkcs7-data) ... }."""
    inner = rng.randbytes(rng.choice([900, 1800, 2500]))
    content = b"\xa0" + _der_len(len(inner) + 4) + b"\x04" + _der_len(len(inner)) + inner
    oid = b"\x06\x09\x2a\x86\x48\x86\xf7\x0d\x01\x07\x01"
    auth_safe = b"\x30" + _der_len(len(oid) + len(content)) + oid + content
    mac = b"\x30\x31" + rng.randbytes(49)
    body = b"\x02\x01\x03" + auth_safe + mac
    return base64.b64encode(b"\x30" + _der_len(len(body)) + body).decode()


def pkcs12_wrapped(rng: random.Random) -> str:
    blob = pkcs12_blob(rng)
    if rng.random() < 0.4:
        return "\n".join(blob[i : i + 76] for i in range(0, len(blob), 76))
    return blob


def pkcs12_negatives(rng: random.Random) -> list[str]:
    cert = b"\x30\x82\x03\x10\x30\x82\x02\xf8\xa0\x03\x02\x01\x02" + rng.randbytes(780)
    png = b"\x89PNG\r\n\x1a\n" + rng.randbytes(600)
    return [
        f"tls.crt: {base64.b64encode(cert).decode()}",
        f"icon: {base64.b64encode(png).decode()}",
        "KEYSTORE_BASE64=MIIxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
        "Export the .p12 with openssl pkcs12 -export -out cert.p12 and base64 it.",
    ]


def terraform_password(rng: random.Random) -> tuple[str, str]:
    secret = _password(rng)
    name = rng.choice(
        ["administrator_login_password", "master_password", "password", "db_password"]
    )
    block = rng.choice(
        [
            'resource "azurerm_mssql_server" "main" {{\n  name = "sql-prod"\n  {n} = "{v}"\n}}\n',
            'resource "aws_db_instance" "db" {{\n  engine   = "postgres"\n  {n} = "{v}"\n}}\n',
            '# terraform.tfvars\nregion = "eu-west-1"\n{n} = "{v}"\n',
        ]
    )
    return block.format(n=name, v=secret), secret


def nuget_password(rng: random.Random) -> tuple[str, str]:
    if rng.random() < 0.5:
        secret, key = _password(rng), "ClearTextPassword"
    else:
        secret, key = base64.b64encode(rng.randbytes(180)).decode(), "Password"
    text = (
        "<configuration>\n  <packageSourceCredentials>\n    <Corp>\n"
        '      <add key="Username" value="build" />\n'
        f'      <add key="{key}" value="{secret}" />\n'
        "    </Corp>\n  </packageSourceCredentials>\n</configuration>\n"
    )
    return text, secret


def config_password_negatives(rng: random.Random) -> list[str]:
    return [
        'resource "aws_db_instance" "db" {\n  password = var.db_password\n}\n',
        "  master_password = random_password.db.result\n",
        '  administrator_login_password = "${var.sql_password}"\n',
        '<add key="ClearTextPassword" value="%NUGET_PASSWORD%" />',
        '<add key="Username" value="build-agent" />',
        'password = "changeme"',
        '<add key="Password" value="YOUR_PASSWORD_HERE" />',
        'variable "db_password" {\n  type      = string\n  sensitive = true\n}\n',
    ]


def teams_webhook(rng: random.Random) -> str:
    style = rng.randrange(3)
    ids = f"{_uuid(rng)}@{_uuid(rng)}/IncomingWebhook/{_r(rng, HEX, 32)}/{_uuid(rng)}"
    if style == 0:
        tail = f"/V2{_r(rng, URLSAFE, 43)}" if rng.random() < 0.6 else ""
        tenant = rng.choice(["contoso", "fabrikam", "corp365"])
        return f"https://{tenant}.webhook.office.com/webhookb2/{ids}{tail}"
    if style == 1:
        return f"https://outlook.office.com/webhook/{ids}"
    region = rng.choice(["westeurope", "eastus", "northeurope"])
    return (
        f"https://prod-{rng.randint(10, 99)}.{region}.logic.azure.com:443/workflows/"
        f"{_r(rng, HEX, 32)}/triggers/manual/paths/invoke?api-version=2016-06-01"
        f"&sp=%2Ftriggers%2Fmanual%2Frun&sv=1.0&sig={_r(rng, URLSAFE, 43)}"
    )


def teams_negatives(rng: random.Random) -> list[str]:
    x = "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx"
    return [
        f"https://contoso.webhook.office.com/webhookb2/{x}@{x}/IncomingWebhook/{'x' * 32}/{x}",
        "TEAMS_WEBHOOK_URL=https://outlook.office.com/webhook/<your-webhook-url>",
        "Open https://outlook.office.com/mail/ and check the inbox",
        "https://prod-00.westus.logic.azure.com:443/workflows/<id>/triggers/manual/paths/invoke",
    ]


def heroku_key(rng: random.Random) -> str:
    return "HRKU-AA" + _r(rng, URLSAFE, 58) if rng.random() < 0.6 else _uuid(rng)


def heroku_negatives(rng: random.Random) -> list[str]:
    return [
        f"HEROKU_APP_ID={_uuid(rng)}",
        "HEROKU_APP_NAME=billing-api-prod",
        "heroku run bash -a billing-api-prod",
        "HEROKU_API_KEY=HRKU-XXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX",
        'HEROKU_API_KEY="${{ secrets.HEROKU_API_KEY }}"',
    ]


def sentry_token(rng: random.Random) -> str:
    if rng.random() < 0.6:
        payload = {
            "iat": rng.randint(1_700_000_000, 1_800_000_000),
            "url": "https://sentry.io",
            "region_url": "https://us.sentry.io",
            "org": rng.choice(["acme", "initech", "globex"]),
        }
        encoded = base64.b64encode(json.dumps(payload, separators=(",", ":")).encode()).decode()
        return f"sntrys_{encoded}_{_r(rng, B62 + '+/', 43)}"
    return rng.choice(["sntryu_", ""]) + _r(rng, HEX, 64)


def sentry_negatives(rng: random.Random) -> list[str]:
    return [
        f"SENTRY_DSN=https://{_r(rng, HEX, 32)}@o{rng.randint(10**5, 10**6)}.ingest.sentry.io/"
        f"{rng.randint(10**6, 10**7)}",
        "SENTRY_AUTH_TOKEN=<your-auth-token>",
        "sntrys_YOUR_ORG_TOKEN",
        "SENTRY_ORG=acme\nSENTRY_PROJECT=web",
        f"release: {_r(rng, HEX, 40)}",
    ]


def telegram_token(rng: random.Random) -> str:
    return f"{_digits(rng, 9, 10)}:AA{rng.choice('EFGH')}{_r(rng, URLSAFE, 32)}"


def telegram_negatives(rng: random.Random) -> list[str]:
    return [
        "TELEGRAM_BOT_TOKEN=123456789:AAxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
        "the meeting is at 12:30:45 and the ratio is 16:9",
        "bot token format: <bot_id>:<secret>, e.g. 123456:ABC-DEF1234ghIkl-zyx57W2v1u123ew11",
        "TELEGRAM_BOT_TOKEN=${TELEGRAM_BOT_TOKEN}",
    ]


def facebook_token(rng: random.Random) -> str:
    style = rng.randrange(3)
    if style == 0:
        return f"{_digits(rng, 15, 16)}|{_r(rng, HEX, 32)}"
    if style == 1:
        return f"{_digits(rng, 15, 16)}%7C{_r(rng, B62 + '_-', 27)}"
    return "EAA" + rng.choice("BGIJ") + _r(rng, B62, rng.randint(100, 190))


def facebook_negatives(rng: random.Random) -> list[str]:
    return [
        f"FACEBOOK_APP_ID={_digits(rng, 15, 16)}",
        "access_token={app-id}|{app-secret}",
        "| id | name |\n|---:|---|\n| 1234567890123456 | 0123456789abcdef0123456789abcdef |",
        "FB_TOKEN=EAAxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
        f"{_digits(rng, 15, 16)}|{'0' * 32}",
    ]


def artifactory_token(rng: random.Random) -> str:
    style = rng.randrange(3)
    if style == 0:
        return "AKCp" + rng.choice("5678") + _r(rng, B62, 68)
    if style == 1:
        expiry = rng.randint(1_700_000_000, 1_900_000_000)
        raw = f"reftkn:01:{expiry}:{_r(rng, B62, 28)}".encode()
        return base64.b64encode(raw).decode().rstrip("=")
    return "cmVmdGtuOjAxOj" + _r(rng, B62, 50)


def artifactory_negatives(rng: random.Random) -> list[str]:
    return [
        "ARTIFACTORY_URL=https://corp.jfrog.io/artifactory",
        "ARTIFACTORY_API_KEY=AKCpXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX",
        "export ARTIFACTORY_TOKEN=${ARTIFACTORY_TOKEN:?}",
        "registry=https://corp.jfrog.io/artifactory/api/npm/npm/",
    ]


def sonar_token(rng: random.Random) -> str:
    return rng.choice(["squ_", "sqp_", "sqa_", ""]) + _r(rng, HEX, 40)


def sonar_negatives(rng: random.Random) -> list[str]:
    return [
        "SONAR_HOST_URL=https://sonarcloud.io",
        "sonar.projectKey=acme_billing-api",
        "SONAR_TOKEN=squ_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
        "SONAR_TOKEN: ${{ secrets.SONAR_TOKEN }}",
        f"sonar.scm.revision={_r(rng, HEX, 40)}",
    ]


def snyk_token(rng: random.Random) -> str:
    if rng.random() < 0.4:
        return f"snyk_{rng.choice(['uat', 'sat'])}.{_r(rng, HEX, 8)}.{_r(rng, URLSAFE, 43)}"
    return _uuid(rng)


def snyk_negatives(rng: random.Random) -> list[str]:
    return [
        f"SNYK_ORG={_uuid(rng)}",
        "snyk test --severity-threshold=high",
        "SNYK_TOKEN: ${{ secrets.SNYK_TOKEN }}",
        "SNYK_TOKEN=00000000-0000-0000-0000-000000000000",
    ]


def sourcegraph_token(rng: random.Random) -> str:
    style = rng.randrange(3)
    if style == 0:
        return "sgp_" + _r(rng, HEX, 40)
    if style == 1:
        return f"sgp_{_r(rng, HEX, 16)}_{_r(rng, HEX, 40)}"
    return "sgp_local_" + _r(rng, HEX, 40)


def sourcegraph_negatives(rng: random.Random) -> list[str]:
    return [
        "SRC_ENDPOINT=https://sourcegraph.com",
        "SRC_ACCESS_TOKEN=sgp_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
        "SRC_ACCESS_TOKEN=${SRC_ACCESS_TOKEN}",
    ]


def adobe_secret(rng: random.Random) -> str:
    return "p8e-" + _r(rng, B62 + "_-", 32)


def adobe_negatives(rng: random.Random) -> list[str]:
    return [
        f"ADOBE_CLIENT_ID={_r(rng, HEX, 32)}",
        "ADOBE_CLIENT_SECRET=p8e-xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
        "ADOBE_CLIENT_SECRET=<client secret from the developer console>",
    ]


def alibaba_secret(rng: random.Random) -> str:
    return "LTAI5t" + _r(rng, B62, 18) if rng.random() < 0.4 else _r(rng, B62, 30)


def alibaba_negatives(rng: random.Random) -> list[str]:
    return [
        "ALIBABA_CLOUD_REGION_ID=cn-hangzhou",
        "ALIBABA_CLOUD_ACCESS_KEY_ID=LTAIxxxxxxxxxxxxxxxxxxxx",
        "accessKeySecret: ${ALIYUN_ACCESS_KEY_SECRET}",
        "ALIBABA_CLOUD_ACCESS_KEY_SECRET=your_access_key_secret",
    ]


def azure_secret(rng: random.Random) -> str:
    if rng.random() < 0.6:
        return (
            _r(rng, B62 + "_~.-", 3) + rng.choice(string.digits) + "Q~" + _r(rng, B62 + "_~.-", 34)
        )
    return _r(rng, B62 + "_~.-", 34)


def azure_negatives(rng: random.Random) -> list[str]:
    return [
        f"AZURE_CLIENT_ID={_uuid(rng)}\nAZURE_TENANT_ID={_uuid(rng)}",
        'client_secret = os.environ["AZURE_CLIENT_SECRET"]',
        "AZURE_CLIENT_SECRET=abc8Q~xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
        "AZURE_CLIENT_SECRET=<client-secret>",
        "az ad sp credential reset --id $APP_ID --query password -o tsv",
    ]


def generic_key(rng: random.Random) -> str:
    return rng.choice([_r(rng, B62, 32), _r(rng, HEX, 40), _r(rng, URLSAFE, 43)])


def generic_negatives(rng: random.Random) -> list[str]:
    return [
        'api_key = os.environ["API_KEY"]',
        'api_key = "your-api-key"',
        "api_key = get_api_key(settings)",
        "api_key: ${API_KEY}",
        'api_key = "abcdefghijklmnopqrstuvwxyz"',
        'API_KEY="1234567890abcdef1234567890abcdef"',
        'token_type = "bearer"',
        'secret_name = "prod-db-credentials"',
        'tokenizer = AutoTokenizer.from_pretrained("bert-base-uncased")',
        'api_key_header = "X-API-Key"',
        'password_field = "password_confirmation"',
        'api_key = "sk-..."',
        'API_KEY="aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"',
        "api_key = '<API_KEY>'",
        'api_key = "abcd1234abcd1234abcd1234abcd1234"',
        "apiKey: process.env.OPENAI_API_KEY",
    ]


FAMILIES: tuple[Family, ...] = (
    Family(
        "slack",
        "slack_token",
        (slack_bot, slack_user, slack_legacy, slack_config, slack_webhook),
        slack_negatives,
    ),
    Family("stripe", "stripe_secret_key", (stripe_key,), stripe_negatives),
    Family("jwt", "access_token", (jwt_token,), jwt_negatives),
    Family("sentry", "sentry_auth_token", (sentry_token,), sentry_negatives),
    Family("telegram", "telegram_bot_token", (telegram_token,), telegram_negatives),
    Family("facebook", "fb_access_token", (facebook_token,), facebook_negatives),
    Family("teams-webhook", "teams_webhook_url", (teams_webhook,), teams_negatives),
    Family("heroku", "heroku_api_key", (heroku_key,), heroku_negatives),
    Family("artifactory", "artifactory_api_key", (artifactory_token,), artifactory_negatives),
    Family("sonar", "sonar_token", (sonar_token,), sonar_negatives),
    Family("snyk", "snyk_token", (snyk_token,), snyk_negatives),
    Family("sourcegraph", "src_access_token", (sourcegraph_token,), sourcegraph_negatives),
    Family("adobe", "adobe_client_secret", (adobe_secret,), adobe_negatives),
    Family("alibaba", "alibaba_cloud_access_key_secret", (alibaba_secret,), alibaba_negatives),
    Family("azure-ad", "azure_client_secret", (azure_secret,), azure_negatives),
    Family("generic-api-key", "api_key", (generic_key,), generic_negatives),
)


def _block_samples(rng: random.Random, per_family: int) -> list[Sample]:
    """Families whose values bring their own surroundings: multi-line blocks, commands."""
    out: list[Sample] = []
    makers: dict[str, tuple[Callable[[random.Random], tuple[str, str]], ...]] = {
        "private-key": (lambda r: _whole(private_key(r)),),
        "gcp-service-account": (lambda r: _whole(service_account(r)),),
        "k8s-secret": (_k8s_with_span,),
        "curl": (curl_line,),
        "pkcs12": (lambda r: _whole(pkcs12_wrapped(r)),),
        "config-password": (terraform_password, nuget_password),
    }
    for family, options in makers.items():
        for i in range(per_family):
            text, secret = options[i % len(options)](rng)
            text, start = _wrap_block(rng, family, text, secret, i)
            out.append(Sample(family, text, start, start + len(secret), f"block-{i % 4}"))
    return out


def _whole(text: str) -> tuple[str, str]:
    return text, text


def _k8s_with_span(rng: random.Random) -> tuple[str, str]:
    text = k8s_secret(rng)
    password_line = next(line for line in text.splitlines() if "password:" in line)
    return text, password_line.split(": ", 1)[1]


def _wrap_block(rng: random.Random, family: str, text: str, secret: str, i: int) -> tuple[str, int]:
    """Set a block in one of four surroundings; returns the text and the secret's offset."""
    style = i % 4
    if style == 0:
        wrapped = text
    elif style == 1:
        wrapped = f"Can you tell me why this fails?\n\n```\n{text}\n```\nThanks!"
    elif style == 2:
        wrapped = f"$ cat config\n{text}\n$ ./deploy.sh\nerror: permission denied"
    elif family in ("curl", "config-password", "k8s-secret", "pkcs12"):
        wrapped = f"history:\n{text}\n"
    else:  # pasted as a JSON string (newlines escaped), as a chat client sends it
        wrapped = json.dumps({"file": "creds", "content": text})[:-1] + "}"
        secret = json.dumps(secret)[1:-1]
        return wrapped, wrapped.index(secret)
    return wrapped, wrapped.index(secret)


NEGATIVE_BLOCKS: dict[str, Callable[[random.Random], list[str]]] = {
    "private-key": pem_negatives,
    "gcp-service-account": gcp_negatives,
    "k8s-secret": k8s_negatives,
    "curl": curl_negatives,
    "pkcs12": pkcs12_negatives,
    "config-password": config_password_negatives,
}


def corpus(per_context: int = 2, per_block_family: int = 16, seed: int = 11) -> list[Sample]:
    """Every family's positives in each context, then its hard negatives."""
    rng = random.Random(seed)
    out: list[Sample] = []
    for family in FAMILIES:
        for context in family.contexts:
            for i in range(per_context):
                maker = family.values[(i + len(out)) % len(family.values)]
                value = maker(rng)
                if context == "curl" and "://" not in value:
                    template = (
                        "curl -s https://api.internal.test/v1/ping"
                        " -H 'X-" + family.var.replace("_", "-").title() + ": {v}'"
                    )
                    out.append(_in_context(family.name, context, value, family.var, template))
                else:
                    out.append(_in_context(family.name, context, value, family.var))
        out.extend(_negative(family.name, text) for text in family.negatives(rng))
    out.extend(_block_samples(rng, per_block_family))
    for family_name, negatives in NEGATIVE_BLOCKS.items():
        out.extend(_negative(family_name, text) for text in negatives(rng))
    return out
