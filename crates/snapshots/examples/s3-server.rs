//! A real S3 server on loopback for `make bench`'s upload row: s3s-fs (the same server the
//! offsite tests use) with SigV4 auth, serving the folder ROOT (each subfolder a bucket).
//! `s3-server ROOT PORTFILE`; the access key and secret come from S3_AK and S3_SK.

use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto::Builder as ConnBuilder;

#[tokio::main]
async fn main() {
    let mut args = std::env::args().skip(1);
    let (root, portfile) = (args.next().expect("ROOT"), args.next().expect("PORTFILE"));
    let (ak, sk) = (
        std::env::var("S3_AK").unwrap(),
        std::env::var("S3_SK").unwrap(),
    );
    let fs = s3s_fs::FileSystem::new(&root).unwrap();
    let mut b = s3s::service::S3ServiceBuilder::new(fs);
    b.set_auth(s3s::auth::SimpleAuth::from_single(ak, sk));
    let service = b.build();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    std::fs::write(&portfile, listener.local_addr().unwrap().port().to_string()).unwrap();
    loop {
        let Ok((socket, _)) = listener.accept().await else {
            continue;
        };
        let service = service.clone();
        tokio::spawn(async move {
            let _ = ConnBuilder::new(TokioExecutor::new())
                .serve_connection(TokioIo::new(socket), service)
                .await;
        });
    }
}
