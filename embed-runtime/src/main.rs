//! The binary Trunk builds: it only mounts the app.

#[cfg(target_arch = "wasm32")]
fn main() {
    leptos::mount::mount_to_body(embed_runtime::Root);
}

/// The runtime runs in a browser; natively there is nothing to start.
#[cfg(not(target_arch = "wasm32"))]
fn main() {
    eprintln!("embed-runtime runs in the browser: build it with `trunk build --release` (see Trunk.toml)");
}
