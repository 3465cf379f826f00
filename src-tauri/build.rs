fn main() {
    // The app's own commands are declared so the ACL covers them: the UI may call only these.
    let attrs = tauri_build::Attributes::new()
        .capabilities_path_pattern("./src-tauri/capabilities/**/*")
        .app_manifest(tauri_build::AppManifest::new().commands(&[
            "get_session",
            "sign_in",
            "sign_out",
            "list_resources",
            "refresh_newest",
            "list_versions",
            "create_snapshots",
            "download_snapshot",
            "cancel_transfer",
            "stop_waiting",
            "pause_queue",
            "get_settings",
            "save_settings",
            "set_destination",
            "set_destination_from_paths",
            "clear_destination",
            "pick_destination",
            "open_folder",
            "list_library",
            "verify_file",
            "prune_library",
            "restore_snapshot",
            "check_put_back",
            "put_back",
            "pick_put_back_file",
            "list_shown",
            "get_start_at_login",
            "set_start_at_login",
            "list_plans",
            "list_history",
            "set_plan_reserve",
            "add_plan",
            "remove_plan",
        ]));
    tauri_build::try_build(attrs).expect("tauri build");
}
