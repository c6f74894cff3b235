//! The man pages in man/ are generated from the clap definitions; this test
//! fails when they are stale. Regenerate with:
//!   OUTLET_UPDATE_MAN=1 cargo test --test man_pages

use std::path::Path;

use clap::CommandFactory;
use outlet::cli::Cli;

fn render(cmd: clap::Command) -> Vec<u8> {
    let mut out = Vec::new();
    clap_mangen::Man::new(cmd)
        .section("8")
        .manual("outlet manual")
        .source(concat!("outlet ", env!("CARGO_PKG_VERSION")))
        .render(&mut out)
        .expect("render man page");
    out
}

fn pages() -> Vec<(String, Vec<u8>)> {
    let top = Cli::command();
    let mut pages = vec![("outlet.8".to_string(), render(top.clone()))];
    for sub in top.get_subcommands() {
        let name = format!("outlet-{}", sub.get_name());
        let leaked: &'static str = Box::leak(name.clone().into_boxed_str());
        let cmd = sub
            .clone()
            .name(leaked)
            .bin_name(format!("outlet {}", sub.get_name()));
        pages.push((format!("{name}.8"), render(cmd)));
    }
    pages
}

#[test]
fn man_pages_are_current() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("man");
    let update = std::env::var_os("OUTLET_UPDATE_MAN").is_some();
    let mut stale = Vec::new();
    for (name, text) in pages() {
        let path = dir.join(&name);
        if update {
            std::fs::create_dir_all(&dir).unwrap();
            std::fs::write(&path, &text).unwrap();
        } else if std::fs::read(&path).ok().as_deref() != Some(&text[..]) {
            stale.push(name);
        }
    }
    assert!(
        stale.is_empty(),
        "stale man pages {stale:?}: run OUTLET_UPDATE_MAN=1 cargo test --test man_pages"
    );
}
