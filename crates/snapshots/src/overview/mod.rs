//! What the window and `sqsnap` show, computed here once from the engine's state: the
//! resource rows with their health (`rows`), the plans view (`plans_view`), the plans' run
//! history (`history`), the settings as the window edits them (`settings_view`), and which
//! folders and files are the app's own (`folders`). The window (`list_resources`, …) and
//! `sqsnap list --json` serialize these same types, so they show the same keys.

mod folders;
mod history;
mod plans_view;
mod rows;
mod settings_view;

pub use folders::{in_library, is_app_folder};
pub use history::{HISTORY_ROWS, HistoryRow, history, history_of_engine};
pub use plans_view::{PlanRow, PlansView, plans_of_engine, plans_view};
pub use rows::{DAYS, FRESH_HOURS, Health, Inputs, ResourceRow, of_engine, rows, shown, shown_row};
pub use settings_view::SettingsView;
