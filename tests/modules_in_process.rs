//! The module loader and pool manager in this process, on real `.so` files:
//! no runtime process, no mocks.

use std::sync::Arc;

use chimaera::module::{CreateError, ModuleError, ModuleManager, ModuleSearchPath};
use chimaera::pool::{PoolError, PoolManager, PoolSpec};
use chimaera_test_support::{MISMATCHED_MODULE, OOT_MODULE, artifacts, fixture_modules};
use chimod_sdk::{Method, PoolId, PoolQuery};

// What a client of each module shares with it: numbers and types.
const GREET: Method<String, String> = Method::new(10);
const PANIC: Method<(), ()> = Method::new(11);

fn managers() -> (ModuleManager, PoolManager) {
    let search = ModuleSearchPath::new(vec![fixture_modules().to_owned(), artifacts().dir().to_owned()]);
    (ModuleManager::new(search), PoolManager::new(0))
}

fn spec(mod_name: &str, name: &str, id: PoolId, params: serde_json::Value) -> PoolSpec {
    PoolSpec {
        mod_name: mod_name.to_owned(),
        pool_name: name.to_owned(),
        pool_query: PoolQuery::Local,
        pool_id: id,
        params: params.as_object().cloned().expect("params object"),
    }
}

#[test]
fn an_out_of_tree_module_answers_calls() {
    let (modules, pools) = managers();
    let pool = pools
        .create(
            spec(OOT_MODULE, "greeter", PoolId::new(500, 0), serde_json::json!({"greeting": "hello"})),
            &modules,
        )
        .unwrap();
    pool.with_container(|container| {
        let reply = container.call(GREET.id, &GREET.encode_input(&"world".to_owned()).unwrap()).unwrap();
        assert_eq!(GREET.decode_output(&reply).unwrap(), "hello, world!");
        assert_eq!(container.info().pool_name, "greeter");
        assert_eq!(container.module().version(), "0.3.0");

        // A panic fails that call, with its message, and nothing else.
        let err = container.call(PANIC.id, &PANIC.encode_input(&()).unwrap()).unwrap_err();
        assert_eq!(err, CreateError::Panicked("module panicked: asked to panic in a call".into()));
        let reply = container.call(GREET.id, &GREET.encode_input(&"again".to_owned()).unwrap()).unwrap();
        assert_eq!(GREET.decode_output(&reply).unwrap(), "hello, again!");

        // Unknown methods and malformed input are errors, not crashes.
        assert!(container.call(99, &[]).unwrap_err().to_string().contains("no method 99"));
        assert!(
            container.call(GREET.id, &[0xff, 0xff]).unwrap_err().to_string().contains("malformed task data")
        );
        assert_eq!(container.stats().unwrap()["calls"], 5);
    });
    // Calls through the pool count as its tasks, looks at the container do not.
    pool.call(GREET.id, &GREET.encode_input(&"counted".to_owned()).unwrap()).unwrap();
    assert!(pool.call(99, &[]).is_err());
    assert_eq!(pool.tasks(), 2);
}

#[test]
fn a_module_is_loaded_once_for_many_pools() {
    let (modules, pools) = managers();
    for minor in 0..3 {
        let params = serde_json::json!({"custom_param1": "a", "custom_param2": "b"});
        pools
            .create(
                spec("chimaera_custom_mod", &format!("c{minor}"), PoolId::new(400, minor), params),
                &modules,
            )
            .unwrap();
    }
    assert_eq!(modules.loaded_names(), ["chimaera_custom_mod"]);
    let first = modules.load("chimaera_custom_mod").unwrap();
    assert!(Arc::ptr_eq(&first, &modules.load("chimaera_custom_mod").unwrap()));
    assert_eq!(pools.list().len(), 3);
}

#[test]
fn pools_are_found_by_id_and_name_and_duplicates_refused() {
    let (modules, pools) = managers();
    let params = || serde_json::json!({"custom_param1": "a", "custom_param2": "b", "buffer_size": "64K", "options": {"n": [1, 2]}});
    let id = PoolId::new(400, 0);
    pools.create(spec("chimaera_custom_mod", "first", id, params()), &modules).unwrap();
    assert_eq!(pools.get(id).unwrap().spec().pool_name, "first");
    assert_eq!(pools.by_name("first").unwrap().id(), id);

    let err = pools.create(spec("chimaera_custom_mod", "second", id, params()), &modules).unwrap_err();
    assert!(matches!(err, PoolError::DuplicateId { .. }));
    assert_eq!(err.to_string(), "pool id 400.0 is already used by pool `first` (chimaera_custom_mod)");
    let err = pools
        .create(spec("chimaera_custom_mod", "first", PoolId::new(400, 1), params()), &modules)
        .unwrap_err();
    assert_eq!(err.to_string(), "pool name `first` is already used by pool 400.0 (chimaera_custom_mod)");

    assert!(pools.destroy(id).is_some());
    assert!(pools.get(id).is_none() && pools.by_name("first").is_none());
    pools.create(spec("chimaera_custom_mod", "first", id, params()), &modules).unwrap();
}

#[test]
fn failed_creations_change_nothing() {
    let (modules, pools) = managers();
    let good = serde_json::json!({"custom_param1": "a", "custom_param2": "b"});
    pools.create(spec("chimaera_custom_mod", "keep", PoolId::new(400, 0), good), &modules).unwrap();
    let bad = serde_json::json!({"custom_param1": "a"});
    let err =
        pools.create(spec("chimaera_custom_mod", "bad", PoolId::new(400, 1), bad), &modules).unwrap_err();
    assert_eq!(err.to_string(), "custom_param2: required key is missing");
    let err = pools
        .create(
            spec(
                OOT_MODULE,
                "boom",
                PoolId::new(500, 1),
                serde_json::json!({"greeting": "x", "panic_in_create": true}),
            ),
            &modules,
        )
        .unwrap_err();
    assert!(matches!(err, PoolError::Create(CreateError::Panicked(_))), "{err}");
    assert_eq!(pools.list().len(), 1);
    assert!(pools.by_name("bad").is_none() && pools.by_name("boom").is_none());
}

#[test]
fn an_incompatible_module_is_refused_naming_both_versions() {
    let (modules, _) = managers();
    match modules.load(MISMATCHED_MODULE) {
        Err(ModuleError::Incompatible { module_abi, host_abi, module_sdk, host_sdk, .. }) => {
            assert_eq!(module_abi, host_abi + 1);
            assert_eq!(
                (module_sdk.as_str(), host_sdk),
                (chimod_sdk::abi::SDK_VERSION, chimod_sdk::abi::SDK_VERSION)
            );
        }
        other => panic!("expected an ABI mismatch, got {other:?}"),
    }
    assert!(modules.loaded_names().is_empty());
}
