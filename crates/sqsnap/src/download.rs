//! `sqsnap download`: an existing snapshot (the newest by default), at no quota.

use crate::cli::DownloadArgs;
use crate::exit::Fail;
use crate::session::Session;

pub async fn run(s: &Session, a: &DownloadArgs) -> Result<(), Fail> {
    let r = s.engine.resource(&a.id)?;
    s.engine
        .download(
            &r,
            a.version.as_deref(),
            a.dest.as_deref(),
            s.sink(),
            &s.cancel,
        )
        .await?;
    Ok(())
}
