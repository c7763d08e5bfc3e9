//! Task inputs as a module or the admin pool decodes them from shared
//! memory: any bytes decode or fail, never panic or allocate without bound.
#![no_main]

use chimod_sdk::codec::decode;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _ = decode::<chimod_sdk::admin::CreatePool>(data);
    let _ = decode::<chimod_sdk::admin::SchedulePeriodic>(data);
    let _ = decode::<chimod_sdk::admin::RuntimeStats>(data);
    let _ = decode::<chimaera_bdev_api::WriteRequest>(data);
    let _ = decode::<chimaera_bdev_api::ReadRequest>(data);
    let _ = decode::<chimaera_bdev_api::WriteInline>(data);
    let _ = decode::<Vec<chimaera_bdev_api::Block>>(data);
    let _ = decode::<chimaera_custom_api::Relay>(data);
    let _ = decode::<Vec<chimod_sdk::NodeOutcome>>(data);
    if data.len() >= 3 {
        let _ = chimod_sdk::Route::decode(u32::from(data[0]), u32::from(data[1]), u32::from(data[2]));
    }
});
