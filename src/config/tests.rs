use super::*;

#[test]
fn example_file_is_the_defaults() {
    let parsed: Config = toml::from_str(EXAMPLE).expect("example parses");
    let a = toml::to_string(&parsed).expect("ser");
    let b = toml::to_string(&Config::default()).expect("ser");
    assert_eq!(a, b, "examples/imax.toml must state the embedded defaults");
}

#[test]
fn env_overrides_file_and_unknown_keys_are_refused() {
    let dir = tempfile::tempdir().expect("tmp");
    let path = dir.path().join("c.toml");
    std::fs::write(
        &path,
        "listen = \"127.0.0.1:9000\"\n[limits]\nmax_file_bytes = 10\n",
    )
    .expect("write");
    let env = vec![
        ("IMAX_LIMITS_MAX_FILE_BYTES".to_string(), "2048".to_string()),
        ("IMAX_DATA_DIR".to_string(), "/srv/imax".to_string()),
        ("PATH".to_string(), "/bin".to_string()),
    ];
    let c = Config::load(Some(&path), env).expect("loads");
    assert_eq!(c.listen.port(), 9000);
    assert_eq!(c.limits.max_file_bytes, 2048);
    assert_eq!(c.data_dir, PathBuf::from("/srv/imax"));

    let bad = vec![("IMAX_NO_SUCH".to_string(), "1".to_string())];
    assert!(matches!(
        Config::load(None, bad),
        Err(ConfigError::UnknownEnv { .. })
    ));
    // Read as the setting's type: digits stay a string where a string is meant; a word
    // where a number is meant is refused, naming the variable.
    let digits = vec![("IMAX_SMTP_CA_FILE".to_string(), "2026".to_string())];
    let c = Config::load(None, digits).expect("a file name of digits");
    assert_eq!(c.smtp.ca_file, "2026");
    let word = vec![("IMAX_LIMITS_MAX_FILE_BYTES".to_string(), "lots".to_string())];
    match Config::load(None, word) {
        Err(ConfigError::Invalid(why)) => assert!(why.contains("IMAX_LIMITS_MAX_FILE_BYTES")),
        other => panic!("expected Invalid, got {other:?}"),
    }
    std::fs::write(&path, "lisen = \"127.0.0.1:9000\"\n").expect("write");
    assert!(Config::load(Some(&path), Vec::new()).is_err());
}

#[test]
fn a_database_url_is_printed_without_its_password() {
    for (url, shown) in [
        (
            "postgres://imax:s3cret@db.example:5432/imax",
            "postgres://imax:***@db.example:5432/imax",
        ),
        (
            "mysql://imax:pa/ss?w#rd@db/imax",
            "mysql://imax:***@db/imax",
        ),
        (
            "postgres://db/imax?user=imax&password=s3cret&sslmode=require",
            "postgres://db/imax?user=imax&password=***&sslmode=require",
        ),
        (
            "sqlite:///var/lib/imax/imax.db",
            "sqlite:///var/lib/imax/imax.db",
        ),
        ("imax:s3cret@db", "(a database URL, not shown)"),
    ] {
        assert_eq!(redacted_url(url), shown);
    }
    let config = Config {
        database_url: "mysql://imax:s3cret@db/imax".into(),
        ..Config::default()
    };
    let refused = config
        .validate()
        .expect_err("not a supported database")
        .to_string();
    assert!(refused.contains("mysql://imax:***@db/imax"), "{refused}");
    assert!(!refused.contains("s3cret"), "{refused}");
}

/// `smtp.starttls` keeps its documented values (`IMAX_SMTP_STARTTLS` too), read into
/// `StartTls`; any other is refused when the configuration loads.
#[test]
fn starttls_takes_its_three_documented_values_and_nothing_else() {
    let with = |v: &str| Config::load(None, vec![("IMAX_SMTP_STARTTLS".to_string(), v.into())]);
    for (text, mode) in [
        ("required", super::StartTls::Required),
        ("opportunistic", super::StartTls::Opportunistic),
        ("never", super::StartTls::Never),
    ] {
        assert_eq!(with(text).expect(text).smtp.starttls, mode);
    }
    assert!(matches!(with("sometimes"), Err(ConfigError::Invalid(_))));
    assert_eq!(Config::default().smtp.starttls, super::StartTls::Required);
}

#[test]
fn bodies_in_a_bucket_need_an_s3_url_and_postgresql() {
    let with = |database_url: &str, url: &str| Config {
        database_url: database_url.into(),
        bodies: super::Bodies {
            url: url.into(),
            s3_endpoint: "http://127.0.0.1:8333".into(),
            ..super::Bodies::default()
        },
        ..Config::default()
    };
    let pg = "postgres://imax@db/imax";
    assert!(with(pg, "s3://imax-bodies").validate().is_ok());
    assert!(with(pg, "s3://imax-bodies/site-a").validate().is_ok());
    assert!(with(pg, "").validate().is_ok());
    for (db, url) in [
        (pg, "s3://"),
        (pg, "gs://imax-bodies"),
        ("", "s3://imax-bodies"),
    ] {
        let refused = with(db, url).validate().expect_err(url).to_string();
        assert!(refused.contains("bodies.url"), "{refused}");
    }
}

/// Issue 30: the scanner's settings from the environment, as the acceptance run sets them.
#[test]
fn the_scanner_is_set_from_the_environment_and_checked() {
    let env = |pairs: &[(&str, &str)]| {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect::<Vec<_>>()
    };
    let c = Config::load(
        None,
        env(&[
            ("IMAX_SCAN_CLAMD", "127.0.0.1:3310"),
            ("IMAX_SCAN_FAIL_OPEN", "true"),
        ]),
    )
    .expect("loads");
    assert_eq!(
        c.scan.clamd_addr(),
        Some(ClamdAddr::Tcp("127.0.0.1:3310".into()))
    );
    assert!(c.scan.fail_open);
    let c =
        Config::load(None, env(&[("IMAX_SCAN_CLAMD", "/run/clamav/clamd.ctl")])).expect("loads");
    assert!(matches!(c.scan.clamd_addr(), Some(ClamdAddr::Socket(_))));
    assert_eq!(Config::default().scan.clamd_addr(), None);
    for bad in ["clamd", "127.0.0.1:0"] {
        assert!(
            Config::load(None, env(&[("IMAX_SCAN_CLAMD", bad)])).is_err(),
            "{bad}"
        );
    }
    assert!(Config::load(None, env(&[("IMAX_SCAN_TIMEOUT_SECS", "0")])).is_err());
}

/// Issue 30: the groups that must have a second factor, in a file or as a comma-separated
/// list in the environment; an unknown group is refused.
#[test]
fn second_factor_groups_come_from_the_environment_as_a_list() {
    use super::SecondFactorGroup;
    let env = vec![(
        "IMAX_ACCOUNTS_TWO_FACTOR_REQUIRED".to_string(),
        "coordinator, help-desk,hud".to_string(),
    )];
    let c = Config::load(None, env).expect("loads");
    assert_eq!(
        c.accounts.two_factor_required,
        vec![
            SecondFactorGroup::Coordinator,
            SecondFactorGroup::HelpDesk,
            SecondFactorGroup::Hud
        ]
    );
    assert!(Config::default().accounts.two_factor_required.is_empty());
    let bad = vec![(
        "IMAX_ACCOUNTS_TWO_FACTOR_REQUIRED".to_string(),
        "everyone".to_string(),
    )];
    assert!(Config::load(None, bad).is_err());
}
