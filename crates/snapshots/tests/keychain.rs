//! The OS keychain through `keyring`, against a real Secret Service (`make test` starts
//! gnome-keyring in a private D-Bus session) and with none at all.

use snapshots::secret::{KeyringStore, SecretError, SecretStore};
use snapshots::squarecloud::ApiKey;

#[test]
fn keychain_round_trip_or_a_clear_error() {
    let store = KeyringStore::new("app.squaresnapshots.desktop.test");
    let key = ApiKey::new("313397145698959364-keychain-test").unwrap();
    let expect = std::env::var("SQSNAP_EXPECT_KEYRING").unwrap_or_default();
    match expect.as_str() {
        "present" => {
            store.set(&key).unwrap();
            assert_eq!(store.get().unwrap(), Some(key.clone()));
            store.delete().unwrap();
            assert_eq!(store.get().unwrap(), None);
            store.delete().unwrap(); // deleting twice is fine
        }
        "absent" => {
            let e = store.set(&key).unwrap_err();
            assert!(matches!(e, SecretError::Unavailable(_)), "{e:?}");
            let text = e.to_string();
            assert!(
                text.contains("Secret Service") && text.contains("not saved anywhere"),
                "{text}"
            );
            assert!(
                !text.contains("keychain-test"),
                "the key leaked into the message"
            );
        }
        _ => {
            // Outside `make test`: whatever this machine has must either work or say why.
            match store.set(&key) {
                Ok(()) => {
                    assert_eq!(store.get().unwrap(), Some(key));
                    store.delete().unwrap();
                }
                Err(e) => assert!(e.to_string().contains("not saved anywhere")),
            }
        }
    }
}
