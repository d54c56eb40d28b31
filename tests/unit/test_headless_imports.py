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
