//! Fuzz target for config.json loading: any bytes must give either a spec or
//! an error that names a field, never a panic.
//!
//! Two ways to run it:
//! - `cargo fuzz run -s none parse_config` (libFuzzer with coverage; works on
//!   stable Rust; the default AddressSanitizer build needs a nightly toolchain);
//! - `cargo run --release --manifest-path fuzz/Cargo.toml -- [--seconds N]
//!   [--seed S] [FILE_OR_DIR...]`: a stable-Rust driver that mutates the
//!   inputs (default: crates/husk-config/tests/corpus) for N seconds (default
//!   10), both as bytes and as JSON trees, and stops at the first failure.
#![cfg_attr(fuzzing, no_main)]

use std::path::Path;

use husk_config::ConfigError;

/// Loads `data` as config.json and checks the error contract; panics on a
/// violation (the fuzzer reports it as a crash).
fn check(data: &[u8]) {
    let result = husk_config::parse_with_warnings(Path::new("config.json"), data)
        .and_then(|loaded| husk_config::validate_with_warnings(&loaded.spec).map(|_| ()));
    let Err(error) = result else { return };
    match &error {
        ConfigError::Parse { line, column, field, msg, .. } => {
            assert!(*line >= 1 && *column >= 1, "position {line}:{column} in {error}");
            assert!(!field.is_empty() && !msg.is_empty(), "{error:?}");
        }
        ConfigError::Invalid { field, msg } => assert!(!field.is_empty() && !msg.is_empty(), "{error:?}"),
        ConfigError::Bundle { .. } => panic!("parsing bytes cannot fail to read a bundle: {error}"),
    }
}

#[cfg(fuzzing)]
libfuzzer_sys::fuzz_target!(|data: &[u8]| check(data));

#[cfg(not(fuzzing))]
fn main() {
    if let Err(message) = driver::run(std::env::args().skip(1)) {
        eprintln!("parse_config: {message}");
        std::process::exit(2);
    }
}

#[cfg(not(fuzzing))]
mod driver {
    use std::path::{Path, PathBuf};
    use std::time::{Duration, Instant};

    use serde_json::Value;

    /// Pieces of JSON worth splicing in: structure, edge numbers, odd strings.
    const TOKENS: &[&str] = &[
        "{",
        "}",
        "[",
        "]",
        "\"",
        ",",
        ":",
        "null",
        "true",
        "-1",
        "0",
        "4294967296",
        "1e999",
        "\"\"",
        "\"/\"",
        "\"..\"",
        "\"\\u0000\"",
        "\"\\ud800\"",
        "[]",
        "{}",
    ];

    struct Options {
        seconds: u64,
        seed: u64,
        inputs: Vec<PathBuf>,
    }

    fn parse_options(mut args: impl Iterator<Item = String>) -> Result<Options, String> {
        let mut options = Options { seconds: 10, seed: 0x5eed, inputs: Vec::new() };
        while let Some(arg) = args.next() {
            let mut number = |name: &str| {
                let value = args.next().ok_or(format!("{name} needs a value"))?;
                value.parse::<u64>().map_err(|e| format!("{name} {value}: {e}"))
            };
            match arg.as_str() {
                "--seconds" => options.seconds = number("--seconds")?,
                "--seed" => options.seed = number("--seed")?,
                _ => options.inputs.push(PathBuf::from(arg)),
            }
        }
        if options.inputs.is_empty() {
            options.inputs.push(Path::new(env!("CARGO_MANIFEST_DIR")).join("../crates/husk-config/tests/corpus"));
        }
        Ok(options)
    }

    fn read_seeds(inputs: &[PathBuf]) -> Result<Vec<Vec<u8>>, String> {
        let mut files = Vec::new();
        for input in inputs {
            if input.is_dir() {
                let entries = std::fs::read_dir(input).map_err(|e| format!("{}: {e}", input.display()))?;
                let mut paths: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
                paths.retain(|p| p.extension().is_some_and(|ext| ext == "json"));
                paths.sort();
                files.extend(paths);
            } else {
                files.push(input.clone());
            }
        }
        let seeds: Vec<Vec<u8>> = files
            .iter()
            .map(|path| std::fs::read(path).map_err(|e| format!("{}: {e}", path.display())))
            .collect::<Result<_, _>>()?;
        if seeds.is_empty() {
            return Err("no inputs".into());
        }
        Ok(seeds)
    }

    /// xorshift64*: deterministic for a seed, so failures replay.
    struct Rng(u64);

    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
        }

        fn below(&mut self, bound: usize) -> usize {
            (self.next() % bound.max(1) as u64) as usize
        }
    }

    fn mutate_bytes(rng: &mut Rng, input: &mut Vec<u8>, other: &[u8]) {
        let at = rng.below(input.len() + 1);
        match rng.below(5) {
            0 if !input.is_empty() => {
                let last = input.len() - 1;
                input[at.min(last)] ^= 1 << rng.below(8);
            }
            1 => {
                let end = (at + rng.below(16)).min(input.len());
                input.drain(at..end);
            }
            2 => {
                let token = TOKENS[rng.below(TOKENS.len())];
                input.splice(at..at, token.bytes());
            }
            3 if !other.is_empty() => {
                let start = rng.below(other.len());
                let end = (start + rng.below(64)).min(other.len());
                input.splice(at..at, other[start..end].iter().copied());
            }
            _ => input.truncate(at),
        }
    }

    /// Replaces one node of the JSON tree: keeps the document well-formed so
    /// the mutation reaches the typed parse and the validation rules.
    fn mutate_tree(rng: &mut Rng, value: &mut Value) {
        let mut node = value;
        loop {
            let children = match node {
                Value::Object(map) => map.len(),
                Value::Array(list) => list.len(),
                _ => 0,
            };
            if children == 0 || rng.below(4) == 0 {
                break;
            }
            let pick = rng.below(children);
            node = match node {
                Value::Object(map) => map.values_mut().nth(pick).expect("index below len"),
                Value::Array(list) => &mut list[pick],
                _ => unreachable!("only containers have children"),
            };
        }
        let token = TOKENS[rng.below(TOKENS.len())];
        *node = match rng.below(3) {
            0 => serde_json::from_str(token).unwrap_or(Value::Null),
            1 => match node {
                Value::Array(list) if !list.is_empty() => {
                    let copy = list[rng.below(list.len())].clone();
                    list.push(copy);
                    return;
                }
                Value::Object(map) if !map.is_empty() => {
                    let key = map.keys().nth(rng.below(map.len())).expect("index below len").clone();
                    map.remove(&key);
                    return;
                }
                _ => Value::String(token.to_string()),
            },
            _ => Value::from(rng.next() as i64 >> rng.below(64)),
        };
    }

    pub(super) fn run(args: impl Iterator<Item = String>) -> Result<(), String> {
        let options = parse_options(args)?;
        let seeds = read_seeds(&options.inputs)?;
        let trees: Vec<Value> = seeds.iter().filter_map(|seed| serde_json::from_slice(seed).ok()).collect();
        let mut rng = Rng(options.seed.max(1));
        let deadline = Instant::now() + Duration::from_secs(options.seconds);
        let mut runs = 0u64;
        for seed in &seeds {
            super::check(seed);
        }
        while Instant::now() < deadline {
            let input = if trees.is_empty() || rng.below(2) == 0 {
                let mut input = seeds[rng.below(seeds.len())].clone();
                let other = &seeds[rng.below(seeds.len())];
                for _ in 0..=rng.below(4) {
                    mutate_bytes(&mut rng, &mut input, other);
                }
                input
            } else {
                let mut tree = trees[rng.below(trees.len())].clone();
                for _ in 0..=rng.below(4) {
                    mutate_tree(&mut rng, &mut tree);
                }
                serde_json::to_vec_pretty(&tree).expect("a Value always serializes")
            };
            if let Err(panic) = std::panic::catch_unwind(|| super::check(&input)) {
                let saved = std::env::temp_dir().join(format!("husk-config-fuzz-crash-{}.json", std::process::id()));
                std::fs::write(&saved, &input).map_err(|e| format!("saving the crashing input: {e}"))?;
                let reason = panic.downcast_ref::<String>().map(String::as_str).unwrap_or("panic");
                return Err(format!("input {runs} failed ({reason}); saved to {}", saved.display()));
            }
            runs += 1;
        }
        eprintln!("parse_config: {runs} inputs in {}s from {} seeds, no failure", options.seconds, seeds.len());
        Ok(())
    }
}
