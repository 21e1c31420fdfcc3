//! How failures are reported: each message once.

use crate::support::{render, transcript};

/// Issue 5: the I/O error was printed as the message and again as its cause.
#[test]
fn an_io_error_is_printed_once() {
    let out = render("test").arg("no/such/file.yaml").output().unwrap();
    insta::assert_snapshot!(transcript(&out), @r"
        exit: 5
        ----- stdout -----
        ----- stderr -----
        error: cannot read no/such/file.yaml
          caused by: failed to query resolved metadata `no/such/file.yaml`: No such file or directory (os error 2)
        ");
}
