//! Links the benchmark runner against the release libvais_alloc.so (built
//! by `make lib` in the repository root) and benches/build/libfloor.so
//! (built by benches/Makefile), both dynamically and found at run time
//! through an rpath, so every call is a real cross-object C ABI call.

use std::env;
use std::path::PathBuf;

fn main() {
    let manifest = PathBuf::from(env::var("CARGO_MANIFEST_DIR").unwrap());
    let benches = manifest.parent().unwrap().to_path_buf();
    let root = benches.parent().unwrap().to_path_buf();
    let lib_dir = env::var("VAIS_ALLOC_LIB_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|_| root.join("target").join("release"));
    let floor_dir = env::var("VAIS_FLOOR_LIB_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|_| benches.join("build"));

    for (dir, file) in [(&lib_dir, "libvais_alloc.so"), (&floor_dir, "libfloor.so")] {
        if !dir.join(file).exists() {
            panic!(
                "{} not found in {}: run `make lib` in the repository root and \
                 `make -C benches build` (which builds libfloor.so) first",
                file,
                dir.display()
            );
        }
    }

    for dir in [&lib_dir, &floor_dir] {
        println!("cargo:rustc-link-search=native={}", dir.display());
        println!("cargo:rustc-link-arg=-Wl,-rpath,{}", dir.display());
    }
    println!("cargo:rustc-link-lib=dylib=vais_alloc");
    println!(
        "cargo:rustc-env=VAIS_ALLOC_SO={}",
        lib_dir.join("libvais_alloc.so").display()
    );
    println!("cargo:rustc-link-lib=dylib=floor");
    println!("cargo:rerun-if-env-changed=VAIS_ALLOC_LIB_DIR");
    println!("cargo:rerun-if-env-changed=VAIS_FLOOR_LIB_DIR");
    println!("cargo:rerun-if-changed=build.rs");
}
