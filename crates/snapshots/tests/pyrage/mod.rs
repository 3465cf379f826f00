//! pyrage (Python bindings of rage): an age that is not ours, to open what we seal.

/// The Python that has `pyrage` (`make test` makes a venv; see the Makefile).
/// `None` (the test skips) only where `make test` did not ask for it
/// (`SQSNAP_EXPECT_PYRAGE=present` makes a missing pyrage a failure).
pub fn python() -> Option<String> {
    let py = std::env::var("SQSNAP_PYRAGE_PYTHON").unwrap_or_else(|_| "python3".into());
    let ok = std::process::Command::new(&py)
        .args(["-c", "import pyrage"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        let expect = std::env::var("SQSNAP_EXPECT_PYRAGE").unwrap_or_default();
        assert_ne!(
            expect, "present",
            "pyrage is not installed for SQSNAP_PYRAGE_PYTHON, but make test expects it"
        );
        eprintln!("skipped: no pyrage (make test installs it and requires it)");
    }
    ok.then_some(py)
}

/// Argv: recovery key file, its passphrase, the sealed file, where the plain bytes go; also
/// writes `<out>.back.age`, "from pyrage" encrypted by pyrage to the same public key.
pub const DECRYPT: &str = r##"
import base64, sys, pyrage
from pyrage import passphrase, x25519
rec, pw, sealed, out = sys.argv[1:]
text = open(rec).read().strip().splitlines()
assert text[0] == "-----BEGIN AGE ENCRYPTED FILE-----" and text[-1] == "-----END AGE ENCRYPTED FILE-----"
binary = base64.b64decode("".join(text[1:-1]))
ident = passphrase.decrypt(binary, pw).decode()
key = [l for l in ident.splitlines() if l.startswith("AGE-SECRET-KEY-1")][0]
pyrage.decrypt_file(sealed, out, [x25519.Identity.from_str(key)])
recip = [l for l in ident.splitlines() if l.startswith("# public key: ")][0].split(": ")[1]
open(out + ".back.age", "wb").write(pyrage.encrypt(b"from pyrage", [x25519.Recipient.from_str(recip)]))
"##;

/// Runs [`DECRYPT`] with `py`: the recovery key `rec` opened with `passphrase`, then `sealed`
/// decrypted into `out` (and `<out>.back.age` written). Panics with pyrage's error.
pub fn decrypt(
    py: &str,
    rec: &std::path::Path,
    passphrase: &str,
    sealed: &std::path::Path,
    out: &std::path::Path,
) {
    let run = std::process::Command::new(py)
        .arg("-c")
        .arg(DECRYPT)
        .arg(rec)
        .arg(passphrase)
        .arg(sealed)
        .arg(out)
        .output()
        .unwrap();
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
}
