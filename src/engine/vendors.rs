//! The vendors there are: the one place that lists them. A vendor is a folder under
//! `sources/` implementing [`Vendor`] and a folder under `simulator/` implementing
//! `SimulatedVendor`, each compiled with the cargo feature of its name (build.rs declares
//! the modules); adding one is a line in the invocation at the end of this file.
//! Everything else — the configuration's `vendor:` values and keys, client construction,
//! the refresh tasks, `check-source` and its advice, persistence, the order of metric
//! families and the HELP of the families vendors share, the simulator's routes, options
//! and flags, and the demo — follows from that line.

use std::sync::OnceLock;

use reqwest::Url;
use serde::Deserialize;
use serde::de::Deserializer;
use tokio::task::JoinHandle;

use super::task::Task;
use crate::config::{self, Catalogue, ConfigWarning, FieldError, VendorKeys, Vendors, field_names};
use crate::exposition::{Detail, Family, HelpParts};
#[cfg(any(test, feature = "fuzzing"))]
use crate::sources::fuzzing::FuzzTarget;
use crate::sources::{ClientContext, RefreshError, Vendor};

/// A configured source of one of the vendors.
pub(crate) type SourceSpec = config::SourceSpec<VendorSpec>;
/// A validated configuration: the sources of this build's vendors.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    pub(crate) sources: Vec<SourceSpec>,
}

impl From<config::Config<VendorSpec>> for Config {
    fn from(config: config::Config<VendorSpec>) -> Config {
        Config {
            sources: config.sources,
        }
    }
}

macro_rules! vendors {
    ($($feature:literal: $variant:ident => $vendor:ty, simulated by $tenant:ty;)+) => {
        #[cfg(not(any($(feature = $feature),+)))]
        compile_error!(concat!("backup-exporter needs at least one vendor: build with the feature of one of" $(, " ", $feature)+));

        /// A source's vendor and that vendor's settings.
        #[derive(Debug, Clone, PartialEq)]
        pub(crate) enum VendorSpec {
            $(#[cfg(feature = $feature)] $variant(<$vendor as Vendor>::Spec),)+
        }

        /// A vendor's keys of a source entry, as read.
        pub(crate) enum VendorBlock {
            $(#[cfg(feature = $feature)] $variant(<$vendor as Vendor>::Config),)+
        }

        /// A source's client, built before its task starts, so a configuration whose
        /// clients cannot be built changes nothing.
        pub(super) enum Client {
            $(#[cfg(feature = $feature)] $variant(Box<$vendor>),)+
        }

        impl VendorSpec {
            /// The value of `vendor:` (and of the `vendor` label).
            pub(crate) fn name(&self) -> &'static str {
                match *self {
                    $(#[cfg(feature = $feature)] VendorSpec::$variant(_) => <$vendor>::NAME,)+
                }
            }

            /// What the data read with these settings from `url` is of.
            pub(crate) fn origin(&self, url: &Url) -> String {
                match self {
                    $(#[cfg(feature = $feature)] VendorSpec::$variant(spec) => <$vendor>::origin(spec, url),)+
                }
            }

            /// What a user can do about `error`, in the vendor's terms, if it has a word.
            pub(crate) fn advice(&self, error: &RefreshError) -> Option<&'static str> {
                match *self {
                    $(#[cfg(feature = $feature)] VendorSpec::$variant(_) => <$vendor>::advice(error),)+
                }
            }
        }

        impl Vendors for VendorSpec {
            type Block = VendorBlock;

            fn catalogue() -> &'static Catalogue {
                static CATALOGUE: OnceLock<Catalogue> = OnceLock::new();
                $(#[cfg(feature = $feature)] debug_assert_eq!(<$vendor>::NAME, $feature, "a vendor is named as its feature");)+
                CATALOGUE.get_or_init(|| Catalogue {
                    vendors: vec![$(#[cfg(feature = $feature)] VendorKeys {
                        name: <$vendor>::NAME,
                        fields: field_names::<<$vendor as Vendor>::Config>(),
                        default_url: <$vendor>::DEFAULT_URL,
                        labels: <$vendor>::LABELS,
                    },)+],
                    left_out: vec![$(#[cfg(not(feature = $feature))] $feature,)+],
                })
            }

            fn read<'de, D: Deserializer<'de>>(index: usize, block: D) -> Result<VendorBlock, D::Error> {
                let name = Self::catalogue().vendors[index].name;
                $(#[cfg(feature = $feature)] if name == <$vendor>::NAME {
                    return <<$vendor as Vendor>::Config>::deserialize(block).map(VendorBlock::$variant);
                })+
                unreachable!("the catalogue lists only these vendors")
            }

            fn validate(
                block: VendorBlock,
                at: &str,
                warnings: &mut Vec<ConfigWarning>,
            ) -> Result<(VendorSpec, Option<Detail>), FieldError> {
                match block {
                    $(#[cfg(feature = $feature)] VendorBlock::$variant(config) => <$vendor>::validate(config, at, warnings)
                        .map(|(spec, detail)| (VendorSpec::$variant(spec), detail)),)+
                }
            }
        }

        impl Client {
            pub(super) fn new(spec: &SourceSpec, context: ClientContext<'_>) -> Result<Client, RefreshError> {
                match &spec.vendor {
                    $(#[cfg(feature = $feature)] VendorSpec::$variant(vendor) => {
                        <$vendor>::new(vendor, context).map(|c| Client::$variant(Box::new(c)))
                    })+
                }
            }

            /// Starts the source's refresh task.
            pub(super) fn spawn(self, task: Task) -> JoinHandle<()> {
                match self {
                    $(#[cfg(feature = $feature)] Client::$variant(client) => tokio::spawn(task.run(*client)),)+
                }
            }

            /// `check-source`.
            pub(super) async fn check(self) -> Result<Vec<String>, RefreshError> {
                match self {
                    $(#[cfg(feature = $feature)] Client::$variant(client) => client.check().await,)+
                }
            }
        }

        /// Every vendor's families in the order a scrape writes them; a family vendors
        /// share comes where the first vendor lists it.
        pub(crate) fn families() -> &'static [Family] {
            static FAMILIES: OnceLock<Vec<Family>> = OnceLock::new();
            FAMILIES.get_or_init(|| {
                // The HELP of a family vendors share names each of this build's vendors.
                crate::exposition::register_vendor_help(vec![$(#[cfg(feature = $feature)] &<$vendor>::HELP,)+]);
                let mut all: Vec<Family> = Vec::new();
                $(#[cfg(feature = $feature)] for family in <$vendor>::FAMILIES {
                    if !all.iter().any(|known| known.is(family)) {
                        all.push(family);
                    }
                })+
                all
            })
        }

        /// A source of this build's first vendor named `name` reading `url`, with
        /// `settings` (YAML lines indented by four), for tests of vendor-neutral code.
        #[cfg(test)]
        pub(crate) fn test_source(name: &str, url: &str, settings: &str) -> SourceSpec {
            let keys = [$(#[cfg(feature = $feature)] (<$vendor>::NAME, <$vendor>::TEST_KEYS),)+][0];
            let yaml = format!(
                "sources:\n  - name: {name}\n    vendor: {}\n    url: {url}\n{}{settings}",
                keys.0, keys.1
            );
            super::parse_config("test.yml", &yaml)
                .expect("a valid test source")
                .0
                .sources
                .remove(0)
        }

        /// What each vendor says of a text that several share (a HELP), in the vendors'
        /// order: `pick` reads a vendor's part.
        pub(crate) fn vendor_parts(pick: fn(&HelpParts) -> &'static str) -> Vec<&'static str> {
            vec![$(#[cfg(feature = $feature)] pick(&<$vendor>::HELP),)+]
        }

        /// What this build reads, for `--help`: each vendor's products in a few words.
        pub(crate) fn described() -> String {
            vendor_parts(|help| help.products).join(" and ")
        }

        /// The simulator of every vendor this build has.
        #[cfg(feature = "simulator")]
        mod simulated {
            use std::sync::Arc;

            use crate::runtime::clock::Clock;
            use crate::simulator::{GeneratedTenant, Simulator, SimulatorOptions};

            /// `simulate`'s flags of every vendor.
            #[derive(clap::Args, Debug)]
            #[allow(non_snake_case)] // a field per vendor, named as its variant
            pub(crate) struct SimulatedVendorArgs {
                $(#[cfg(feature = $feature)] #[command(flatten)] $variant: <$tenant as GeneratedTenant>::Args,)+
            }

            impl SimulatedVendorArgs {
                /// The options the flags ask for, each vendor's estate from `seed`.
                pub(crate) fn options(&self, seed: u64) -> SimulatorOptions {
                    let mut options = SimulatorOptions::default();
                    $(#[cfg(feature = $feature)] {
                        *options.vendor_mut() = <$tenant as GeneratedTenant>::options(&self.$variant, seed);
                    })+
                    options
                }
            }

            /// The demo's tenants.
            pub(crate) fn demo_options() -> SimulatorOptions {
                let mut options = SimulatorOptions::default();
                $(#[cfg(feature = $feature)] {
                    *options.vendor_mut() = <$tenant as GeneratedTenant>::demo_options();
                })+
                options
            }

            impl Simulator {
                /// A simulator of every vendor this build has, each generated from its
                /// options in `options`.
                pub fn new(options: SimulatorOptions, clock: Clock) -> Arc<Simulator> {
                    let now = clock.now_ms();
                    Simulator::with_vendors(
                        vec![$(#[cfg(feature = $feature)] Box::new(<$tenant as GeneratedTenant>::generate(options.vendor(), now)),)+],
                        options.latency,
                        clock,
                    )
                }
            }
        }
        /// Every vendor's fuzz targets: its own, and its state file (`<vendor>_state`).
        #[cfg(any(test, feature = "fuzzing"))]
        pub(crate) fn fuzz_targets() -> Vec<&'static FuzzTarget> {
            let mut targets = Vec::new();
            $(#[cfg(feature = $feature)] {
                targets.extend(<$vendor as Vendor>::FUZZ_TARGETS);
                targets.push(&FuzzTarget {
                    name: concat!($feature, "_state"),
                    run: super::persist::fuzz_state::<$vendor>,
                });
            })+
            targets
        }
        #[cfg(feature = "simulator")]
        pub(crate) use simulated::{SimulatedVendorArgs, demo_options};
    };
}

// A vendor per line: its cargo feature (which is also its `vendor:` name), its variant, its
// client and its simulated tenant.
vendors! {
    "code42": Code42 => crate::sources::code42::Code42, simulated by crate::simulator::code42::Code42Tenant;
    "druva": Druva => crate::sources::druva::Druva, simulated by crate::simulator::druva::DruvaTenant;
}

/// The whole configuration as the registry reads it: the common keys and each vendor's.
#[cfg(test)]
// In a build with one vendor, matching a source's vendor cannot fail.
#[allow(irrefutable_let_patterns)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::engine::parse_config as parse;
    #[cfg(feature = "code42")]
    use crate::sources::code42::Code42Auth;
    #[cfg(feature = "druva")]
    use crate::sources::druva::DruvaEvents;

    fn check(yaml: &str) -> Result<Config, String> {
        parse("test.yml", yaml)
            .map(|(c, _)| c)
            .map_err(|e| e.to_string())
    }

    #[cfg(feature = "code42")]
    const GOOD: &str = r#"
sources:
  - name: crashplan-us
    vendor: code42
    url: https://console.us1.crashplan.com
    client_id: key-6a1b
    client_secret_env: PATH
    refresh_interval: 15m
    timeout: 60s
    query: { active: "true", org: 42 }
"#;

    #[test]
    #[cfg(feature = "code42")]
    fn the_documented_shape_parses() {
        let config = check(GOOD).unwrap();
        let source = &config.sources[0];
        assert_eq!(source.name, "crashplan-us");
        assert_eq!(source.refresh_interval, Duration::from_secs(900));
        assert_eq!(source.timeout, Duration::from_secs(60));
        let VendorSpec::Code42(spec) = &source.vendor else {
            panic!("code42")
        };
        assert_eq!(
            spec.query,
            vec![
                ("active".into(), "true".into()),
                ("org".into(), "42".into())
            ]
        );
        assert_eq!(spec.report_path, "/api/v1/DeviceBackupReport");
        assert_eq!(spec.page_size, 1000);
    }

    #[test]
    #[cfg(feature = "code42")]
    fn errors_name_file_field_and_problem() {
        let cases = [
            (
                GOOD.replace("15m", "15x"),
                "test.yml: sources[0].refresh_interval: invalid duration \"15x\"",
            ),
            (
                GOOD.replace("timeout: 60s", "timeout: 60"),
                "sources[0].timeout: a duration needs a unit",
            ),
            (
                GOOD.replace("    timeout: 60s\n", "    timeout: 60s\n    colour: red\n"),
                "test.yml: sources[0]: unknown field `colour`, expected one of `name`",
            ),
            // Another vendor's key (it is an unknown key in a build without that vendor).
            #[cfg(feature = "druva")]
            (
                GOOD.replace("    timeout: 60s\n", "    timeout: 60s\n    reports: [x]\n"),
                "test.yml: sources[0].reports: is not a setting of vendor code42",
            ),
            (
                GOOD.replace(
                    "    timeout: 60s\n",
                    "    timeout: 60s\n    page_size: lots\n",
                ),
                "test.yml: sources[0].page_size: invalid type: string \"lots\", expected u32 at line 10",
            ),
            (
                GOOD.replace("code42", "veeam"),
                "sources[0].vendor: unknown variant `veeam`",
            ),
            (
                GOOD.replace("    client_id: key-6a1b\n", ""),
                "sources[0].client_id: is required with a client secret",
            ),
            (
                GOOD.replace(
                    "client_secret_env: PATH",
                    "client_secret_env: BACKUP_EXPORTER_SURELY_UNSET",
                ),
                "sources[0].client_secret_env: environment variable BACKUP_EXPORTER_SURELY_UNSET is not set",
            ),
            (
                GOOD.replace(
                    "client_secret_env: PATH",
                    "client_secret_file: /nonexistent/secret",
                ),
                "sources[0].client_secret_file: cannot read secret file /nonexistent/secret",
            ),
            (
                GOOD.replace("https://console.us1.crashplan.com", "ftp://x"),
                "sources[0].url: \"ftp://x\" must use http or https",
            ),
            (
                GOOD.replace("active: \"true\"", "srtKey: archiveBytes"),
                "sources[0].query.srtKey: sorting limits",
            ),
            (
                GOOD.replace("name: crashplan-us", "name: \"bad name\""),
                "sources[0].name:",
            ),
            (
                format!("{GOOD}    labels: {{ org: x }}\n"),
                "sources[0].labels.org: collides",
            ),
            (
                format!("{GOOD}    page_size: 5000\n"),
                "sources[0].page_size: must be between 1 and 1000",
            ),
            (
                "sources: []".to_string(),
                "test.yml: sources: at least one source is required",
            ),
            ("sources: [".to_string(), "test.yml:"),
        ];
        for (yaml, expected) in cases {
            let error = check(&yaml).unwrap_err();
            assert!(
                error.contains(expected),
                "expected {expected:?} in {error:?}"
            );
        }
    }

    #[test]
    #[cfg(feature = "druva")]
    fn druva_defaults() {
        let yaml = "sources:\n  - name: druva\n    vendor: druva\n    client_id: id\n    client_secret_env: PATH\n";
        let config = check(yaml).unwrap();
        let source = &config.sources[0];
        assert_eq!(source.url.as_str(), "https://apis.druva.com/");
        let VendorSpec::Druva(spec) = &source.vendor else {
            panic!("druva")
        };
        assert_eq!(spec.reports, crate::sources::druva::reports::all_ids());
        assert_eq!(spec.page_size, 500);
        assert_eq!(spec.full_read_interval, Duration::from_secs(6 * 3600));
        assert_eq!(spec.events, DruvaEvents::V2);
    }

    #[test]
    #[cfg(feature = "code42")]
    fn duplicate_names_are_rejected() {
        let twice = format!("{GOOD}{}", GOOD.replace("sources:\n", ""));
        let error = check(&twice).unwrap_err();
        assert!(
            error.contains("sources[1].name: duplicate source name \"crashplan-us\""),
            "{error}"
        );
    }

    #[test]
    #[cfg(feature = "code42")]
    fn inline_secret_warns_and_legacy_user_auth_parses() {
        let yaml = GOOD.replace(
            "client_id: key-6a1b\n    client_secret_env: PATH",
            "username: admin@example.com\n    password: hunter2",
        );
        let (config, warnings) = parse("t.yml", &yaml).unwrap();
        let VendorSpec::Code42(spec) = &config.sources[0].vendor else {
            panic!("code42")
        };
        assert!(
            matches!(&spec.auth, Code42Auth::User { username, .. } if username == "admin@example.com")
        );
        assert_eq!(warnings.len(), 1);
        assert_eq!(warnings[0].field, "sources[0].password");
        assert!(!format!("{config:?}{warnings:?}").contains("hunter2"));
    }

    /// In a build without a vendor, a configuration naming it says so.
    #[test]
    fn a_vendor_left_out_of_the_build_is_named_as_such() {
        let catalogue = <VendorSpec as Vendors>::catalogue();
        for name in &catalogue.left_out {
            let yaml =
                format!("sources:\n  - name: s\n    vendor: {name}\n    url: http://127.0.0.1:1\n");
            let error = check(&yaml).unwrap_err();
            assert!(
                error.contains(&format!("sources[0].vendor: vendor `{name}` is not in this build (it was compiled without the cargo feature \"{name}\")")),
                "{error}"
            );
        }
        // A vendor is either in the build or left out, never both.
        for vendor in &catalogue.vendors {
            assert!(
                !catalogue.left_out.contains(&vendor.name),
                "{}",
                vendor.name
            );
        }
    }
}
