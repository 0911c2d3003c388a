"""A corpus of secrets as they appear in notebook code, and of look-alikes that are not secrets.

Shared by ``tests/test_secrets.py`` (every secret masked, every look-alike left alone) and
``bench/secret_scan.py`` (the figures in the README). The tokens are built here from their public
formats (random-looking filler), never real credentials.

``SECRETS``: ``(kind, code, secret)``: after ``redact(code)`` the text ``secret`` must be gone.
``CLEAN``: code that must come back unchanged.
"""

from __future__ import annotations

import string

_ALNUM = string.ascii_letters + string.digits


def _fill(n: int, alphabet: str = _ALNUM, seed: int = 7) -> str:
    """``n`` deterministic pseudo-random characters (a linear congruential walk)."""
    out, x = [], seed
    for _ in range(n):
        x = (x * 1103515245 + 12345) % (2**31)
        out.append(alphabet[x % len(alphabet)])
    return "".join(out)


_UPPER = string.ascii_uppercase + string.digits
_HEX = "0123456789abcdef"

OPENAI = "sk-proj-" + _fill(48)
OPENAI_LEGACY = "sk-" + _fill(48, seed=3)
ANTHROPIC = "sk-ant-api03-" + _fill(80, _ALNUM + "-_", seed=5)
AWS_ID = "AKIA" + _fill(16, _UPPER)
AWS_STS = "ASIA" + _fill(16, _UPPER, seed=11)
GITHUB = "ghp_" + _fill(36)
GITHUB_OAUTH = "gho_" + _fill(36, seed=13)
GITHUB_PAT = "github_pat_" + _fill(22) + "_" + _fill(59, seed=17)
GITLAB = "glpat-" + _fill(20, _ALNUM + "-_")
SLACK = "xoxb-" + _fill(12, string.digits) + "-" + _fill(24)
SLACK_HOOK = (
    "https://hooks.slack.com/services/T"
    + _fill(8, _UPPER)
    + "/B"
    + _fill(8, _UPPER)
    + "/"
    + _fill(24)
)
STRIPE = "sk_live_" + _fill(24)
STRIPE_RESTRICTED = "rk_live_" + _fill(24, seed=19)
GOOGLE = "AIza" + _fill(35, _ALNUM + "-_")
HUGGINGFACE = "hf_" + _fill(34)
NPM = "npm_" + _fill(36)
PYPI = "pypi-AgEIcHlwaS5vcmc" + _fill(60, _ALNUM + "-_")
SENDGRID = "SG." + _fill(22, _ALNUM + "-_") + "." + _fill(43, _ALNUM + "-_", seed=23)
DATABRICKS = "dapi" + _fill(32, _HEX)
JWT = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0." + _fill(43, _ALNUM + "-_")
AZURE = "AccountKey=" + _fill(86, _ALNUM + "+/") + "=="
PASSWORD = "SuperS3cret"
PEM_BODY = "\n".join(_fill(64, _ALNUM + "+/", seed=s) for s in range(3))

SECRETS: list[tuple[str, str, str]] = [
    ("openai", f'OPENAI_KEY = "{OPENAI}"', OPENAI),
    ("openai", f'client = OpenAI(api_key="{OPENAI_LEGACY}")', OPENAI_LEGACY),
    ("openai", f'llm = make_client("{OPENAI}")  # no telling name', OPENAI),
    ("anthropic", f'claude = Anthropic("{ANTHROPIC}")', ANTHROPIC),
    ("aws", f'aws_id = "{AWS_ID}"', AWS_ID),
    ("aws", f'session = boto3.Session("{AWS_STS}", "x")', AWS_STS),
    ("github", f'gh = Github("{GITHUB}")', GITHUB),
    ("github", f"# token for the CI bot: {GITHUB_OAUTH}", GITHUB_OAUTH),
    ("github", f'auth = "{GITHUB_PAT}"', GITHUB_PAT),
    ("gitlab", f'gl = gitlab.Gitlab(url, "{GITLAB}")', GITLAB),
    ("slack", f'bot = WebClient("{SLACK}")', SLACK),
    ("slack", f'requests.post("{SLACK_HOOK}", json=msg)', SLACK_HOOK),
    ("stripe", f'stripe.api = "{STRIPE}"', STRIPE),
    ("stripe", f'rk = "{STRIPE_RESTRICTED}"', STRIPE_RESTRICTED),
    ("google", f'maps = googlemaps.Client("{GOOGLE}")', GOOGLE),
    ("huggingface", f'login("{HUGGINGFACE}")', HUGGINGFACE),
    ("npm", f'npmrc = "//registry.npmjs.org/:_authToken={NPM}"', NPM),
    ("pypi", f'upload(repo, "{PYPI}")', PYPI),
    ("sendgrid", f'sg = SendGridAPIClient("{SENDGRID}")', SENDGRID),
    ("databricks", f'w = WorkspaceClient(host=h, pat="{DATABRICKS}")', DATABRICKS),
    ("jwt", f'headers = {{"Authorization": "Bearer {JWT}"}}', JWT),
    ("azure", f'conn = "DefaultEndpointsProtocol=https;AccountName=a;{AZURE}"', AZURE[11:]),
    ("url", f'engine = create_engine("postgresql://admin:{PASSWORD}@db.internal/prod")', PASSWORD),
    ("url", f'client = MongoClient("mongodb+srv://ml:{PASSWORD}@cluster0.x.net/test")', PASSWORD),
    ("url", f'r = redis.from_url("redis://:{PASSWORD}@cache:6379/0")', PASSWORD),
    ("url", f'df = pd.read_csv("https://bob:{PASSWORD}@files.example.com/train.csv")', PASSWORD),
    ("url", f'broker = "amqp://guest:{PASSWORD}@rabbit:5672//"', PASSWORD),
    ("url", f'mysql = "mysql+pymysql://root:{PASSWORD}@localhost:3306/db"', PASSWORD),
    (
        "private key",
        f'key = """-----BEGIN RSA PRIVATE KEY-----\n{PEM_BODY}\n-----END RSA PRIVATE KEY-----"""',
        PEM_BODY,
    ),
    (
        "private key",
        f'ssh = "-----BEGIN OPENSSH PRIVATE KEY-----\\n{PEM_BODY[:64]}\\n-----END OPENSSH PRIVATE KEY-----"',
        PEM_BODY[:64],
    ),
    (
        "private key",
        f"pem = '''-----BEGIN ENCRYPTED PRIVATE KEY-----\n{PEM_BODY}\n-----END ENCRYPTED PRIVATE KEY-----'''",
        PEM_BODY,
    ),
    ("private key", f'gpg = """-----BEGIN PGP PRIVATE KEY BLOCK-----\n{PEM_BODY}', PEM_BODY),
    ("name", 'WANDB_API_KEY = "local-3f9a2b7c1d"', "local-3f9a2b7c1d"),
    ("name", 'MY_SERVICE_KEY = "q8w7e6r5t4"', "q8w7e6r5t4"),
    ("name", 'HF_TOKEN = "not-in-a-known-format"', "not-in-a-known-format"),
    ("name", 'db_password = "hunter2"', "hunter2"),
    ("name", 'conn = connect(user="ml", pwd="letmein42")', "letmein42"),
    (
        "name",
        'os.environ["AWS_SECRET_ACCESS_KEY"] = "wJalrXUtnFEMIK7MDENG"',
        "wJalrXUtnFEMIK7MDENG",
    ),
    ("name", 'cfg = {"client_secret": "abc123xyz"}', "abc123xyz"),
    ("name", 'private_key = "opaque-value"', "opaque-value"),
]

CLEAN: list[str] = [
    'df = pd.read_csv("https://raw.githubusercontent.com/org/repo/main/data.csv")',
    'df = pd.read_parquet("s3://bucket/prefix/part-0000.parquet")',
    'repo = "ssh://git@github.com/org/repo.git"',
    'remote = "git@github.com:org/repo.git"',
    'diff = mj.diff(a, b, key="id")',
    "rng_key = jax.random.PRNGKey(0)",
    'sort_key = "date"',
    'primary_key = ["store", "day"]',
    'model_id = "risk-assessment-model-version-2024-01"',
    'tags = ["task-classification-binary-imbalanced"]',
    "hashes = {'sha256': '9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08'}",
    'uid = "a3f1c2d4-5e6f-4a8b-9c0d-1e2f3a4b5c6d"',
    'email = "ann@example.com"',
    'image = "python:3.11-slim@sha256:0123abcd"',
    "SK = 12  # a constant named SK",
    'url = "http://localhost:8888/lab"',
    "clf = LogisticRegression(C=0.5, max_iter=200).fit(X_train, y_train)",
    'print(f"accuracy: {accuracy_score(y_test, y_pred):.3f}")',
    'note = "-----BEGIN CERTIFICATE-----"  # a public certificate, not a key',
    "monkey = 3",
]
