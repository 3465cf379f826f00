//! The access lists read back from the file system (GetNamedSecurityInfoW,
//! GetExplicitEntriesFromAclW), as another program would see them.

use super::sids;
use std::path::Path;
use windows_sys::Win32::Foundation::{HLOCAL, LocalFree};
use windows_sys::Win32::Security::Authorization::{
    EXPLICIT_ACCESS_W, GRANT_ACCESS, GetExplicitEntriesFromAclW, GetNamedSecurityInfoW,
    SE_FILE_OBJECT, TRUSTEE_IS_SID,
};
use windows_sys::Win32::Security::{
    ACCESS_ALLOWED_ACE, ACL, DACL_SECURITY_INFORMATION, EqualSid, GetAce,
    GetSecurityDescriptorControl, INHERITED_ACE, NO_INHERITANCE, PSECURITY_DESCRIPTOR, PSID,
    SE_DACL_PROTECTED, SUB_CONTAINERS_AND_OBJECTS_INHERIT,
};
use windows_sys::Win32::Storage::FileSystem::FILE_ALL_ACCESS;

/// Who an entry names.
#[derive(Debug, PartialEq)]
enum Who {
    User,
    System,
    Other,
}

#[derive(Debug)]
struct Entry {
    who: Who,
    mode: i32,
    access: u32,
    inheritance: u32,
}

#[derive(Debug)]
struct Read {
    protected: bool,
    /// The list's entries as stored (inherited ones included): whom, and their flags.
    aces: Vec<(Who, u8)>,
    /// What GetExplicitEntriesFromAclW makes of them.
    entries: Vec<Entry>,
}

fn who(sid: PSID) -> Who {
    let ids = sids().unwrap();
    // SAFETY: `sid` is a valid SID from an access list; ours are valid.
    if unsafe { EqualSid(sid, ids.user.as_psid()) } != 0 {
        Who::User
    } else if unsafe { EqualSid(sid, ids.system.as_psid()) } != 0 {
        Who::System
    } else {
        Who::Other
    }
}

/// The access list of `path` as Windows (or Wine) reports it.
fn read(path: &Path) -> Read {
    let name = super::wide(path).unwrap();
    let mut dacl: *mut ACL = std::ptr::null_mut();
    let mut sd: PSECURITY_DESCRIPTOR = std::ptr::null_mut();
    // SAFETY: a NUL-terminated name; the out pointers are valid; the descriptor is freed below.
    let rc = unsafe {
        GetNamedSecurityInfoW(
            name.as_ptr(),
            SE_FILE_OBJECT,
            DACL_SECURITY_INFORMATION,
            std::ptr::null_mut(),
            std::ptr::null_mut(),
            &mut dacl,
            std::ptr::null_mut(),
            &mut sd,
        )
    };
    assert_eq!(rc, 0, "GetNamedSecurityInfoW({}) failed", path.display());
    assert!(
        !dacl.is_null(),
        "{} has no access list at all",
        path.display()
    );
    let (mut control, mut revision) = (0u16, 0u32);
    // SAFETY: `sd` is the descriptor just returned.
    assert_ne!(
        unsafe { GetSecurityDescriptorControl(sd, &mut control, &mut revision) },
        0
    );
    let mut aces = Vec::new();
    // SAFETY: `dacl` points into `sd`, still alive; GetAce gives entries inside it. Only
    // allow entries are expected; any other kind is named Other.
    for i in 0..u32::from(unsafe { (*dacl).AceCount }) {
        let mut ace: *mut std::ffi::c_void = std::ptr::null_mut();
        assert_ne!(unsafe { GetAce(dacl, i, &mut ace) }, 0);
        let ace = unsafe { &*(ace as *const ACCESS_ALLOWED_ACE) };
        let whom = if ace.Header.AceType == 0 {
            who(&ace.SidStart as *const u32 as PSID)
        } else {
            Who::Other
        };
        aces.push((whom, ace.Header.AceFlags));
    }
    let mut count = 0u32;
    let mut list: *mut EXPLICIT_ACCESS_W = std::ptr::null_mut();
    // SAFETY: as above; the list is freed below.
    let rc = unsafe { GetExplicitEntriesFromAclW(dacl, &mut count, &mut list) };
    assert_eq!(rc, 0, "GetExplicitEntriesFromAclW failed");
    let mut entries = Vec::new();
    for i in 0..count as usize {
        // SAFETY: `count` entries at `list`.
        let e = unsafe { &*list.add(i) };
        let who = if e.Trustee.TrusteeForm == TRUSTEE_IS_SID {
            who(e.Trustee.ptstrName as PSID)
        } else {
            Who::Other
        };
        entries.push(Entry {
            who,
            mode: e.grfAccessMode,
            access: e.grfAccessPermissions,
            inheritance: e.grfInheritance,
        });
    }
    // SAFETY: both were allocated for us with LocalAlloc.
    unsafe {
        LocalFree(list as HLOCAL);
        LocalFree(sd as HLOCAL);
    }
    Read {
        protected: control & SE_DACL_PROTECTED != 0,
        aces,
        entries,
    }
}

/// Full control for the user and for SYSTEM, nothing else (in either order: allow entries
/// mean the same in any order), each with `inheritance`.
fn assert_private(path: &Path, r: &Read, inheritance: u32) {
    let mut whom: Vec<&Who> = r.entries.iter().map(|e| &e.who).collect();
    whom.sort_by_key(|w| matches!(w, Who::System));
    assert_eq!(
        whom,
        [&Who::User, &Who::System],
        "{}: {r:?}",
        path.display()
    );
    for e in &r.entries {
        assert_eq!(e.mode, GRANT_ACCESS, "{}: {r:?}", path.display());
        assert_eq!(e.access, FILE_ALL_ACCESS, "{}: {r:?}", path.display());
        assert_eq!(e.inheritance, inheritance, "{}: {r:?}", path.display());
    }
    assert_eq!(r.aces.len(), 2, "{}: {r:?}", path.display());
}

/// A file, a new folder and its new parent, as `ownfile` makes them.
fn made(root: &Path) -> (std::path::PathBuf, [std::path::PathBuf; 2]) {
    let f = root.join("a.zip.part");
    crate::ownfile::create_new(&f).unwrap();
    let sub = root.join("x").join("y");
    crate::ownfile::create_dir_private(&sub).unwrap();
    (f, [root.join("x"), sub])
}

#[test]
fn new_files_and_folders_grant_the_user_and_system_alone() {
    let d = tempfile::tempdir().unwrap();
    let (f, dirs) = made(d.path());
    assert_private(&f, &read(&f), NO_INHERITANCE);
    for dir in dirs {
        assert_private(&dir, &read(&dir), SUB_CONTAINERS_AND_OBJECTS_INHERIT);
    }
}

/// Not under Wine 8, which keeps no security descriptor on a file (scripts/test-windows.sh
/// says what it answers instead).
#[test]
fn the_lists_are_protected_and_passed_on_to_what_is_made_inside() {
    let d = tempfile::tempdir().unwrap();
    let (f, dirs) = made(d.path());
    for p in [&f, &dirs[0], &dirs[1]] {
        let r = read(p);
        assert!(
            r.protected,
            "{}: the folder's entries would come back: {r:?}",
            p.display()
        );
    }
    // A file made inside by other means gets the folder's two entries, inherited, and no
    // other.
    let other = dirs[1].join("copied.zip");
    std::fs::write(&other, b"x").unwrap();
    let r = read(&other);
    let mut whom: Vec<&Who> = r.aces.iter().map(|(w, _)| w).collect();
    whom.sort_by_key(|w| matches!(w, Who::System));
    assert_eq!(
        whom,
        [&Who::User, &Who::System],
        "{}: {r:?}",
        other.display()
    );
    for (_, flags) in &r.aces {
        assert_ne!(
            u32::from(*flags) & INHERITED_ACE,
            0,
            "{}: {r:?}",
            other.display()
        );
    }
}

#[test]
fn a_name_that_is_taken_is_refused_and_long_paths_work() {
    let d = tempfile::tempdir().unwrap();
    let f = d.path().join("a.zip");
    std::fs::write(&f, b"precious").unwrap();
    let e = crate::ownfile::create_new(&f).unwrap_err();
    assert_eq!(e.kind(), std::io::ErrorKind::AlreadyExists, "{e}");
    assert_eq!(std::fs::read(&f).unwrap(), b"precious");
    // Past MAX_PATH (260 characters), as the standard library's own calls allow.
    let deep = d.path().join("d".repeat(120)).join("e".repeat(120));
    crate::ownfile::create_dir_private(&deep).unwrap();
    let long = deep.join(format!("{}.zip", "f".repeat(60)));
    assert!(long.as_os_str().len() > 300);
    use std::io::Write;
    crate::ownfile::create_new(&long)
        .unwrap()
        .write_all(b"data")
        .unwrap();
    assert_eq!(std::fs::read(&long).unwrap(), b"data");
    assert_private(&long, &read(&long), NO_INHERITANCE);
    // A relative name is made where the process is.
    let rel = std::path::Path::new("ownfile-relative-test.part");
    let _ = std::fs::remove_file(rel);
    crate::ownfile::create_new(rel).unwrap();
    assert!(std::env::current_dir().unwrap().join(rel).is_file());
    std::fs::remove_file(rel).unwrap();
}

#[test]
fn a_place_that_refuses_the_list_itself_gets_the_file_as_before_and_nothing_else_is_retried() {
    use std::io::Error;
    use windows_sys::Win32::Foundation::{ERROR_ACCESS_DENIED, ERROR_INVALID_SID};
    let tries = std::cell::RefCell::new(Vec::new());
    let made = super::with_private(false, |sa| {
        tries.borrow_mut().push(sa.is_null());
        if sa.is_null() {
            Ok("made")
        } else {
            Err(Error::from_raw_os_error(ERROR_INVALID_SID as i32))
        }
    });
    assert_eq!(made.unwrap(), "made");
    assert_eq!(*tries.borrow(), [false, true]);
    // Any other failure (here: the folder is not writable) is the answer, with the list.
    tries.borrow_mut().clear();
    let e = super::with_private(true, |sa| -> std::io::Result<()> {
        tries.borrow_mut().push(sa.is_null());
        Err(Error::from_raw_os_error(ERROR_ACCESS_DENIED as i32))
    })
    .unwrap_err();
    assert_eq!(e.raw_os_error(), Some(ERROR_ACCESS_DENIED as i32));
    assert_eq!(*tries.borrow(), [false]);
}
