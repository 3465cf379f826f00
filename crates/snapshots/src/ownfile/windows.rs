//! Windows: what `0600` and `0700` are on Unix. Every file and folder the engine creates is
//! given, as it is created, an explicit access list of its own with two entries, full control
//! for the user running the engine and for SYSTEM, and none inherited from the folder it is
//! in (the list is marked protected). The security descriptor goes into `CreateFileW` and
//! `CreateDirectoryW` themselves, so there is no moment, however short, when another user
//! could open the new file under the folder's wider access and keep that handle.
//!
//! Why SYSTEM: it is the operating system itself, which can read any file anyway (it holds
//! the backup and take-ownership privileges); its entry keeps what Windows does for every
//! file in a profile working here too (Defender's scans, indexing, Windows Backup and File
//! History, shadow copies). Administrators get no entry: on a shared computer an
//! administrator is another user, who would have to take ownership first (the file's owner
//! then shows the change), as root on Unix is not stopped by `0600` but other users are.
//!
//! A folder's two entries are inherited by what is later made inside it (files and
//! folders), so a file put there by other means is private too.
//!
//! A place that refuses the access list itself (an error about the descriptor, as a network
//! share that cannot map the SIDs might answer) gets the file or folder made as before this
//! list existed, with the access the place gives, rather than no backup at all. FAT and exFAT
//! drives keep no access lists: Windows makes the file there and drops the list, as it does
//! for every program.

use std::fs::File;
use std::io;
use std::os::windows::ffi::OsStrExt;
use std::os::windows::io::FromRawHandle;
use std::path::Path;
use std::sync::OnceLock;
use windows_sys::Win32::Foundation::{
    CloseHandle, ERROR_INVALID_ACL, ERROR_INVALID_OWNER, ERROR_INVALID_PRIMARY_GROUP,
    ERROR_INVALID_SECURITY_DESCR, ERROR_INVALID_SID, ERROR_NOT_SUPPORTED, ERROR_PRIVILEGE_NOT_HELD,
    GENERIC_READ, GENERIC_WRITE, HANDLE, INVALID_HANDLE_VALUE,
};
use windows_sys::Win32::Security::{
    ACCESS_ALLOWED_ACE, ACL, ACL_REVISION, AddAccessAllowedAceEx, CONTAINER_INHERIT_ACE,
    CreateWellKnownSid, GetLengthSid, GetTokenInformation, InitializeAcl,
    InitializeSecurityDescriptor, OBJECT_INHERIT_ACE, PSID, SE_DACL_PROTECTED, SECURITY_ATTRIBUTES,
    SECURITY_DESCRIPTOR, SECURITY_MAX_SID_SIZE, SetSecurityDescriptorControl,
    SetSecurityDescriptorDacl, TOKEN_QUERY, TOKEN_USER, TokenUser, WinLocalSystemSid,
};
use windows_sys::Win32::Storage::FileSystem::{
    CREATE_NEW, CreateDirectoryW, CreateFileW, FILE_ALL_ACCESS, FILE_ATTRIBUTE_NORMAL,
    FILE_FLAG_OPEN_REPARSE_POINT, FILE_SHARE_DELETE, FILE_SHARE_READ, FILE_SHARE_WRITE,
};
use windows_sys::Win32::System::Threading::{GetCurrentProcess, OpenProcessToken};

/// `SECURITY_DESCRIPTOR_REVISION` (winnt.h), which windows-sys keeps in a much larger module.
const SD_REVISION: u32 = 1;

/// A SID, in a buffer aligned as the API wants it.
pub struct Sid(Vec<u32>);

impl Sid {
    pub fn as_psid(&self) -> PSID {
        self.0.as_ptr() as PSID
    }
}

/// Whom the access lists name: the user running the engine, and SYSTEM.
pub struct Sids {
    pub user: Sid,
    pub system: Sid,
}

/// The two SIDs, read once (a process's user does not change).
pub fn sids() -> io::Result<&'static Sids> {
    static SIDS: OnceLock<Sids> = OnceLock::new();
    if let Some(s) = SIDS.get() {
        return Ok(s);
    }
    let s = Sids {
        user: current_user()?,
        system: local_system()?,
    };
    Ok(SIDS.get_or_init(|| s))
}

fn current_user() -> io::Result<Sid> {
    // SAFETY: the pseudo handle of this process; the token handle is closed below.
    let mut token: HANDLE = std::ptr::null_mut();
    if unsafe { OpenProcessToken(GetCurrentProcess(), TOKEN_QUERY, &mut token) } == 0 {
        return Err(io::Error::last_os_error());
    }
    let mut len = 0u32;
    // SAFETY: asks for the size only (a null buffer of length 0).
    unsafe { GetTokenInformation(token, TokenUser, std::ptr::null_mut(), 0, &mut len) };
    let mut buf = vec![0u64; (len as usize).div_ceil(8).max(1)];
    // SAFETY: `buf` has room for `len` bytes and is aligned for TOKEN_USER.
    let ok =
        unsafe { GetTokenInformation(token, TokenUser, buf.as_mut_ptr().cast(), len, &mut len) };
    let err = io::Error::last_os_error();
    // SAFETY: the handle OpenProcessToken gave, closed once.
    unsafe { CloseHandle(token) };
    if ok == 0 {
        return Err(err);
    }
    // SAFETY: GetTokenInformation filled a TOKEN_USER at the start of `buf`, whose SID
    // points inside `buf`, which lives until the copy is made.
    unsafe {
        let user = &*(buf.as_ptr() as *const TOKEN_USER);
        Ok(copy_sid(user.User.Sid))
    }
}

/// # Safety
/// `sid` is a valid SID.
unsafe fn copy_sid(sid: PSID) -> Sid {
    // SAFETY: the caller's promise.
    let len = unsafe { GetLengthSid(sid) } as usize;
    let mut out = vec![0u32; len.div_ceil(4)];
    // SAFETY: `len` bytes are readable at `sid` and writable in `out`.
    unsafe { std::ptr::copy_nonoverlapping(sid as *const u8, out.as_mut_ptr().cast(), len) };
    Sid(out)
}

fn local_system() -> io::Result<Sid> {
    let mut buf = vec![0u32; (SECURITY_MAX_SID_SIZE as usize).div_ceil(4)];
    let mut len = SECURITY_MAX_SID_SIZE;
    // SAFETY: `buf` has room for SECURITY_MAX_SID_SIZE bytes.
    let ok = unsafe {
        CreateWellKnownSid(
            WinLocalSystemSid,
            std::ptr::null_mut(),
            buf.as_mut_ptr().cast(),
            &mut len,
        )
    };
    if ok == 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(Sid(buf))
}

/// A security descriptor with the private access list, for one file or folder.
struct Private {
    sd: Box<SECURITY_DESCRIPTOR>,
    /// The list the descriptor points into.
    _acl: Vec<u32>,
}

impl Private {
    fn new(folder: bool) -> io::Result<Private> {
        let sids = sids()?;
        let flags = if folder {
            OBJECT_INHERIT_ACE | CONTAINER_INHERIT_ACE
        } else {
            0
        };
        let ace = std::mem::size_of::<ACCESS_ALLOWED_ACE>() - std::mem::size_of::<u32>();
        let mut size = std::mem::size_of::<ACL>();
        for sid in [&sids.user, &sids.system] {
            // SAFETY: both are valid SIDs (read from the token, made by the system).
            size += ace + unsafe { GetLengthSid(sid.as_psid()) } as usize;
        }
        let mut acl = vec![0u32; size.div_ceil(4)];
        let pacl = acl.as_mut_ptr() as *mut ACL;
        let mut sd = Box::new(SECURITY_DESCRIPTOR::default());
        let psd = (&mut *sd as *mut SECURITY_DESCRIPTOR).cast();
        // SAFETY: `acl` has `size` bytes, enough for the header and both entries; `sd` is a
        // whole SECURITY_DESCRIPTOR; the SIDs outlive the calls (the entries are copies).
        let ok = unsafe {
            InitializeAcl(pacl, (acl.len() * 4) as u32, ACL_REVISION) != 0
                && [&sids.user, &sids.system].iter().all(|sid| {
                    AddAccessAllowedAceEx(pacl, ACL_REVISION, flags, FILE_ALL_ACCESS, sid.as_psid())
                        != 0
                })
                && InitializeSecurityDescriptor(psd, SD_REVISION) != 0
                && SetSecurityDescriptorDacl(psd, 1, pacl, 0) != 0
                && SetSecurityDescriptorControl(psd, SE_DACL_PROTECTED, SE_DACL_PROTECTED) != 0
        };
        if !ok {
            return Err(io::Error::last_os_error());
        }
        Ok(Private { sd, _acl: acl })
    }

    fn attributes(&mut self) -> SECURITY_ATTRIBUTES {
        SECURITY_ATTRIBUTES {
            nLength: std::mem::size_of::<SECURITY_ATTRIBUTES>() as u32,
            lpSecurityDescriptor: (&mut *self.sd as *mut SECURITY_DESCRIPTOR).cast(),
            bInheritHandle: 0,
        }
    }
}

/// The path as `CreateFileW` takes it: whole (`\\?\`), so it may be longer than 260
/// characters, as the standard library's own calls allow; a `\\?\` or `\\.\` path as given.
fn wide(path: &Path) -> io::Result<Vec<u16>> {
    let abs = std::path::absolute(path)?;
    let s: Vec<u16> = abs.as_os_str().encode_wide().collect();
    if s.contains(&0) {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "a NUL in a path",
        ));
    }
    let starts = |p: &str| s.starts_with(&p.encode_utf16().collect::<Vec<u16>>());
    let mut out: Vec<u16> = if starts(r"\\?\") || starts(r"\\.\") {
        s
    } else if starts(r"\\") {
        r"\\?\UNC\"
            .encode_utf16()
            .chain(s[2..].iter().copied())
            .collect()
    } else {
        r"\\?\".encode_utf16().chain(s).collect()
    };
    out.push(0);
    Ok(out)
}

/// Whether the place refused the security descriptor itself (not the name, the folder or
/// the disk).
fn refused_descriptor(e: &io::Error) -> bool {
    let refusals = [
        ERROR_INVALID_OWNER,
        ERROR_INVALID_PRIMARY_GROUP,
        ERROR_INVALID_ACL,
        ERROR_INVALID_SID,
        ERROR_INVALID_SECURITY_DESCR,
        ERROR_PRIVILEGE_NOT_HELD,
        ERROR_NOT_SUPPORTED,
    ];
    e.raw_os_error()
        .is_some_and(|c| refusals.iter().any(|&r| r as i32 == c))
}

/// Runs `make` with the private descriptor; once more without one (the place's own access)
/// when the place refused the descriptor itself.
fn with_private<T>(
    folder: bool,
    make: impl Fn(*const SECURITY_ATTRIBUTES) -> io::Result<T>,
) -> io::Result<T> {
    let mut private = Private::new(folder)?;
    let sa = private.attributes();
    match make(&sa) {
        Err(e) if refused_descriptor(&e) => make(std::ptr::null()),
        other => other,
    }
}

/// Creates a new file, readable and writable through the returned handle, with the private
/// access list. Fails if anything has the name, a link included (which is not followed).
pub fn create_new(path: &Path) -> io::Result<File> {
    let name = wide(path)?;
    with_private(false, |sa| {
        // SAFETY: a NUL-terminated name; `sa` is null or points to attributes whose
        // descriptor lives across the call; the handle returned is owned by the File below.
        let h = unsafe {
            CreateFileW(
                name.as_ptr(),
                GENERIC_READ | GENERIC_WRITE,
                FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE,
                sa,
                CREATE_NEW,
                FILE_ATTRIBUTE_NORMAL | FILE_FLAG_OPEN_REPARSE_POINT,
                std::ptr::null_mut(),
            )
        };
        if h == INVALID_HANDLE_VALUE {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: a valid file handle this function owns.
        Ok(unsafe { File::from_raw_handle(h) })
    })
}

fn create_dir(dir: &Path) -> io::Result<()> {
    let name = wide(dir)?;
    with_private(true, |sa| {
        // SAFETY: as in create_new.
        if unsafe { CreateDirectoryW(name.as_ptr(), sa) } == 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    })
}

/// Creates `dir` and any missing parents, each new one with the private access list
/// (inherited by what is made inside it); folders that exist are left as they are.
pub fn create_dir_all(dir: &Path) -> io::Result<()> {
    if dir.as_os_str().is_empty() || dir.is_dir() {
        return Ok(());
    }
    match create_dir(dir) {
        Ok(()) => return Ok(()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(_) if dir.is_dir() => return Ok(()),
        Err(e) => return Err(e),
    }
    match dir.parent() {
        Some(parent) => create_dir_all(parent)?,
        None => return Err(io::Error::other("no folder to create it in")),
    }
    match create_dir(dir) {
        // Another process made it meanwhile.
        Err(_) if dir.is_dir() => Ok(()),
        other => other,
    }
}

#[cfg(test)]
#[path = "windows_tests.rs"]
mod tests;
