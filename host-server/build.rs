//! Lets the binaries find the prebuilt libduckdb they link against without `LD_LIBRARY_PATH`:
//! `scripts/setup.sh` puts the DuckDB project's libduckdb.so in `DUCKDB_LIB_DIR` (see there why),
//! and this records that directory as the binaries' run path. With `--features bundled-duckdb`
//! DuckDB is compiled in and there is nothing to find.
fn main() {
    println!("cargo:rerun-if-env-changed=DUCKDB_LIB_DIR");
    let bundled = std::env::var_os("CARGO_FEATURE_BUNDLED_DUCKDB").is_some();
    let linux = std::env::var("CARGO_CFG_TARGET_OS").is_ok_and(|os| os == "linux");
    if let (false, true, Ok(dir)) = (bundled, linux, std::env::var("DUCKDB_LIB_DIR")) {
        println!("cargo:rustc-link-arg=-Wl,-rpath,{dir}");
    }
}
