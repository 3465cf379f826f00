//! How WebKitGTK draws the window, chosen once before GTK starts.
//!
//! WebKitGTK composites every frame with OpenGL. Where OpenGL has no GPU behind it (a
//! virtual machine, a remote desktop, a server's virtual display), Mesa rasterizes it in
//! software (llvmpipe), and that costs far more than painting the page on the CPU directly:
//! measured under Xvfb, ticking 1,000 rows took 120–190 ms to the next frame, 90 % of it in
//! llvmpipe; painted without compositing it took 8–9 ms (docs/benchmarks.md). So when no
//! GPU can serve OpenGL, the window asks WebKit to paint without compositing. With a GPU
//! nothing changes. A `WEBKIT_DISABLE_COMPOSITING_MODE` the user set (`0` keeps
//! compositing, `1` turns it off) is always left as it is.

use std::path::{Path, PathBuf};

/// WebKitGTK's switch for painting without accelerated compositing.
pub const SWITCH: &str = "WEBKIT_DISABLE_COMPOSITING_MODE";

/// Why compositing is turned off, or `None` to leave WebKit's choice alone.
///
/// `env` reads a variable; `gpu_nodes` lists the device nodes OpenGL could use a GPU
/// through; `usable` says whether this user can open one (read and write, as Mesa does).
pub fn software_only(
    env: &dyn Fn(&str) -> Option<String>,
    gpu_nodes: &[PathBuf],
    usable: &dyn Fn(&Path) -> bool,
) -> Option<&'static str> {
    if env(SWITCH).is_some() {
        return None; // the user's choice
    }
    let on = |name: &str| env(name).is_some_and(|v| !matches!(v.trim(), "" | "0" | "false"));
    if on("LIBGL_ALWAYS_SOFTWARE") {
        return Some("LIBGL_ALWAYS_SOFTWARE is set");
    }
    if env("GALLIUM_DRIVER").is_some_and(|d| matches!(d.trim(), "llvmpipe" | "softpipe" | "swrast"))
    {
        return Some("GALLIUM_DRIVER names a software rasterizer");
    }
    if !gpu_nodes.iter().any(|p| usable(p)) {
        return Some("no GPU device can be opened for OpenGL");
    }
    None
}

/// The device nodes a GPU is reached through for OpenGL on Linux: DRM render nodes (Mesa's
/// drivers) and NVIDIA's control node (its own driver).
pub fn gpu_nodes() -> Vec<PathBuf> {
    let mut nodes: Vec<PathBuf> = std::fs::read_dir("/dev/dri")
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("renderD"))
        })
        .collect();
    nodes.sort();
    nodes.push(PathBuf::from("/dev/nvidiactl"));
    nodes
}

fn can_open(p: &Path) -> bool {
    std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(p)
        .is_ok()
}

/// Turns compositing off when OpenGL would be software only. Call first thing in `main`,
/// before any thread starts (it sets an environment variable) and before GTK does.
pub fn choose() {
    let env = |name: &str| std::env::var(name).ok();
    if let Some(why) = software_only(&env, &gpu_nodes(), &can_open) {
        // SAFETY: called at the start of `run`, before the app starts any thread.
        unsafe { std::env::set_var(SWITCH, "1") };
        eprintln!(
            "square-snapshots: {why}; the window is painted without compositing ({SWITCH}=1)"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn decide(vars: &[(&str, &str)], nodes: &[&str], openable: &[&str]) -> Option<&'static str> {
        let vars: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let env = |name: &str| vars.get(name).cloned();
        let nodes: Vec<PathBuf> = nodes.iter().map(PathBuf::from).collect();
        let usable = |p: &Path| openable.iter().any(|o| Path::new(o) == p);
        software_only(&env, &nodes, &usable)
    }

    #[test]
    fn no_gpu_device_means_no_compositing() {
        assert!(decide(&[], &["/dev/nvidiactl"], &[]).is_some());
        assert!(decide(&[], &[], &[]).is_some());
    }

    #[test]
    fn a_gpu_the_user_can_open_keeps_webkit_s_choice() {
        let render = ["/dev/dri/renderD128", "/dev/nvidiactl"];
        assert_eq!(decide(&[], &render, &["/dev/dri/renderD128"]), None);
        assert_eq!(decide(&[], &render, &["/dev/nvidiactl"]), None);
        // A render node this user may not open (not in the render group) is no GPU for it.
        assert!(decide(&[], &render, &[]).is_some());
    }

    #[test]
    fn software_gl_asked_for_by_name_means_no_compositing() {
        let gpu = (["/dev/dri/renderD128"], ["/dev/dri/renderD128"]);
        assert!(decide(&[("LIBGL_ALWAYS_SOFTWARE", "1")], &gpu.0, &gpu.1).is_some());
        assert!(decide(&[("GALLIUM_DRIVER", "llvmpipe")], &gpu.0, &gpu.1).is_some());
        assert_eq!(
            decide(&[("LIBGL_ALWAYS_SOFTWARE", "0")], &gpu.0, &gpu.1),
            None
        );
        assert_eq!(
            decide(&[("GALLIUM_DRIVER", "radeonsi")], &gpu.0, &gpu.1),
            None
        );
    }

    #[test]
    fn the_user_s_own_setting_is_never_overridden() {
        assert_eq!(decide(&[(SWITCH, "0")], &[], &[]), None);
        assert_eq!(
            decide(&[(SWITCH, "1"), ("LIBGL_ALWAYS_SOFTWARE", "1")], &[], &[]),
            None
        );
    }
}
