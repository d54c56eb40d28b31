import subprocess
import sys


def test_headless_path_imports_no_textual_and_no_boto3() -> None:
    """The headless path must start fast (target: 0.3 s for a 1 KiB stream): no Textual, and
    botocore without boto3/s3transfer."""
    code = (
        "import sys, s3tui.cli, s3tui.drive, s3tui.engine.stream, s3tui.report.headless\n"
        "bad = [m for m in ('textual', 'rich', 'boto3', 's3transfer') if m in sys.modules]\n"
        "print(','.join(bad))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_tree_quick_path_imports_no_ssl_urllib_or_email() -> None:
    """A tree's quick start (direct path, http endpoint, no proxy) needs none of these; together
    they cost ~13 ms of start-up before the first request."""
    code = (
        "import sys, os\n"
        "for k in [k for k in os.environ if k.lower().endswith('_proxy')]: del os.environ[k]\n"
        "import s3tui.cli, s3tui.drive, s3tui.engine.tree, s3tui.report.headless\n"
        "from s3tui.engine.remote.fast import direct\n"
        "assert direct._proxied('http', '127.0.0.1') is False\n"
        "bad = [m for m in ('ssl', 'urllib.request', 'http.client', 'email.parser', 'botocore',"
        " 'importlib.metadata') if m in sys.modules]\n"
        "print(','.join(bad))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""
