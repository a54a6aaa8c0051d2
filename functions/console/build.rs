//! Builds the console's assets into the binary: each file of `assets/` as it is and gzipped, with
//! its content type and a strong ETag (a hash of its bytes), in `$OUT_DIR/assets.rs`.

use std::io::Write;
use std::path::Path;

use flate2::{write::GzEncoder, Compression};
use sha2::{Digest, Sha256};

fn content_type(name: &str) -> &'static str {
    match name.rsplit('.').next() {
        Some("html") => "text/html; charset=utf-8",
        Some("js") => "text/javascript; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("svg") => "image/svg+xml",
        other => panic!("console asset of unknown type: {name} ({other:?})"),
    }
}

fn main() {
    let assets = Path::new("assets");
    println!("cargo:rerun-if-changed=assets");
    let out = std::env::var("OUT_DIR").expect("OUT_DIR");
    let mut names: Vec<String> = std::fs::read_dir(assets)
        .expect("functions/console/assets")
        .map(|e| e.expect("asset").file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    let mut table = String::from("pub static ASSETS: &[Asset] = &[\n");
    for name in &names {
        let raw = std::fs::read(assets.join(name)).expect("read asset");
        let mut gz = GzEncoder::new(Vec::new(), Compression::best());
        gz.write_all(&raw).expect("gzip");
        let gz = gz.finish().expect("gzip");
        let gz_path = Path::new(&out).join(format!("{name}.gz"));
        std::fs::write(&gz_path, gz).expect("write gzip");
        let etag = &hex::encode(Sha256::digest(&raw))[..20];
        let raw_path = std::fs::canonicalize(assets.join(name)).expect("asset path");
        table.push_str(&format!(
            "    Asset {{ name: {name:?}, content_type: {ct:?}, etag: \"\\\"{etag}\\\"\", raw: include_bytes!({raw:?}), gzip: include_bytes!({gz:?}) }},\n",
            ct = content_type(name),
            raw = raw_path.display().to_string(),
            gz = gz_path.display().to_string(),
        ));
    }
    table.push_str("];\n");
    std::fs::write(Path::new(&out).join("assets.rs"), table).expect("write assets.rs");
}
