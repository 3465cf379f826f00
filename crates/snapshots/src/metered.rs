//! Is the connection metered? NetworkManager says so in its `Metered` property on the
//! system bus (1 yes, 3 guessed yes). Without NetworkManager (or a system bus) the answer
//! is no: nothing is postponed.

use std::time::Duration;

/// Whether NetworkManager says the connection is metered (false without NetworkManager).
/// Callable from anywhere, async code included: zbus's blocking calls run an executor of
/// their own (tokio's, when the build enables it), which panics on a thread that already
/// drives async tasks, so the question is asked on a thread of its own.
pub fn is_metered() -> bool {
    ask(zbus::blocking::connection::Builder::system)
}

/// The question on the bus `bus` opens, asked on a thread of its own (see [`is_metered`]).
fn ask(bus: fn() -> zbus::Result<zbus::blocking::connection::Builder<'static>>) -> bool {
    std::thread::spawn(move || metered_on(bus()))
        .join()
        .unwrap_or(false)
}

/// The same question, on a given bus.
fn metered_on(bus: zbus::Result<zbus::blocking::connection::Builder<'_>>) -> bool {
    let Ok(conn) = bus.and_then(|b| b.method_timeout(Duration::from_secs(2)).build()) else {
        return false;
    };
    let proxy = zbus::blocking::fdo::PropertiesProxy::builder(&conn)
        .destination("org.freedesktop.NetworkManager")
        .and_then(|b| b.path("/org/freedesktop/NetworkManager"))
        .and_then(|b| b.build());
    let Ok(proxy) = proxy else { return false };
    let Ok(iface) = zbus::names::InterfaceName::try_from("org.freedesktop.NetworkManager") else {
        return false;
    };
    proxy
        .get(iface, "Metered")
        .ok()
        .and_then(|v| u32::try_from(v).ok())
        .is_some_and(|m| m == 1 || m == 3)
}

#[cfg(test)]
mod tests {
    use super::*;

    struct FakeNetworkManager(u32);

    #[zbus::interface(name = "org.freedesktop.NetworkManager")]
    impl FakeNetworkManager {
        #[zbus(property)]
        fn metered(&self) -> u32 {
            self.0
        }
    }

    /// Asked from async code (the engine asks while a plan runs), it answers rather than
    /// panicking ("Cannot start a runtime from within a runtime" where zbus runs on tokio
    /// and a system bus is there).
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn asked_from_async_code_it_answers() {
        let nowhere = || zbus::blocking::connection::Builder::address("unix:path=/nonexistent/bus");
        assert!(!ask(nowhere), "no bus: not metered");
    }

    /// A NetworkManager stand-in on a real D-Bus (the test session's bus): yes is metered;
    /// none on the bus is not. Several workers: the stand-in is served by this runtime while
    /// the question blocks one of its threads, as a plan run blocks one of the app's.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    #[ignore = "needs a D-Bus session: `make test` runs it"]
    async fn reads_network_managers_metered_property() {
        // Asked straight from async code, as the engine asks.
        let session = zbus::blocking::connection::Builder::session;
        assert!(!ask(session), "no NetworkManager: not metered");
        let _nm = zbus::connection::Builder::session()
            .unwrap()
            .name("org.freedesktop.NetworkManager")
            .unwrap()
            .serve_at("/org/freedesktop/NetworkManager", FakeNetworkManager(1))
            .unwrap()
            .build()
            .await
            .unwrap();
        assert!(ask(session), "Metered = 1 (yes)");
    }
}
