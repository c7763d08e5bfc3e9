//! Fibers: every task runs on a stack of its own (`runtime.stack_size`
//! bytes, with a guard page), so a task that waits for a subtask suspends
//! just itself; its worker goes on with other tasks and resumes it when the
//! subtask's completion posts a wake-up to the worker's inbox.
//!
//! A fiber is a coroutine that runs jobs in a loop, so its stack is reused
//! from task to task: starting a task costs a context switch, not an mmap.
//! Fibers never move between threads (module code may keep thread-locals).

use std::cell::Cell;
use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use corosensei::stack::{DefaultStack, Stack};
use corosensei::{Coroutine, CoroutineResult, Yielder};
use tracing::{error, warn};

use super::WorkerShared;
use super::execute::{Job, fail_job, run_job};
use super::inbox::Inbox;
use super::stack_guard;
use crate::ipc::TaskStatus;
use crate::task::Outcome;

/// What a worker passes a fiber when it resumes it.
pub(super) enum Resume {
    /// Run this job (the fiber is idle).
    Start(Job),
    /// What the fiber waited for has happened.
    Wake,
}

/// What a fiber tells its worker when it gives the thread back.
pub(super) enum Event {
    /// Its job is done; the fiber is idle.
    Finished,
    /// Its job waits; resume it after a wake-up.
    Suspended,
    /// Its job polls; resume it on the worker's next round.
    Yielded,
}

/// Names a suspended task so that whoever completes what it waits for can
/// wake it.
#[derive(Debug, Clone)]
pub struct FiberRef {
    inbox: Arc<Inbox>,
    fiber: u32,
}

impl FiberRef {
    /// Posts the wake-up to the fiber's worker.
    pub fn wake(&self) {
        self.inbox.wake(self.fiber);
    }
}

struct FiberContext {
    yielder: *const Yielder<Resume, Event>,
    me: FiberRef,
    /// The process the running job belongs to.
    owner: Cell<u32>,
}

thread_local! {
    /// The fiber running on this thread now, if any.
    static CURRENT: Cell<*const FiberContext> = const { Cell::new(std::ptr::null()) };
}

/// The fiber of the task running on this thread, or `None` on a thread
/// that is not running a task on a fiber.
pub fn current_fiber() -> Option<FiberRef> {
    let ctx = CURRENT.get();
    // SAFETY: CURRENT is non-null only while the fiber that owns the
    // context (on its own stack) is running on this thread.
    (!ctx.is_null()).then(|| unsafe { (*ctx).me.clone() })
}

/// The process whose task runs on this thread's current fiber: the client
/// of a client's task, inherited by its subtasks.
pub fn current_task_owner() -> Option<u32> {
    let ctx = CURRENT.get();
    // SAFETY: as in `current_fiber`.
    (!ctx.is_null()).then(|| unsafe { (*ctx).owner.get() })
}

/// Puts the running fiber at the end of its worker's round (on a thread
/// with no fiber, yields the thread).
pub fn yield_current_fiber() {
    let ctx = CURRENT.get();
    if ctx.is_null() {
        std::thread::yield_now();
        return;
    }
    // SAFETY: as in `suspend_current_fiber`.
    let yielder = unsafe { &*(*ctx).yielder };
    if let Resume::Start(_) = yielder.suspend(Event::Yielded) {
        error!("a yielded fiber was given a new job; the job is dropped");
    }
    CURRENT.set(ctx);
}

/// Suspends the running fiber until its worker resumes it after a wake-up.
/// Only called when [`current_fiber`] returned `Some`.
pub fn suspend_current_fiber() {
    let ctx = CURRENT.get();
    if ctx.is_null() {
        error!("suspend outside a fiber; ignored");
        return;
    }
    // SAFETY: as in `current_fiber`; the yielder belongs to this fiber and
    // is valid while its body runs, which includes this call.
    let yielder = unsafe { &*(*ctx).yielder };
    if let Resume::Start(_) = yielder.suspend(Event::Suspended) {
        error!("a suspended fiber was given a new job; the job is dropped");
    }
    CURRENT.set(ctx);
}

type FiberCoroutine = Coroutine<Resume, Event, (), DefaultStack>;

struct Fiber {
    coroutine: FiberCoroutine,
    /// Waiting for a wake-up, or yielded (in `ready`).
    suspended: bool,
    guard: (usize, usize),
}

/// One worker's fibers: idle ones ready for a job, suspended ones waiting.
pub(super) struct Fibers {
    shared: Arc<WorkerShared>,
    stack_size: usize,
    fibers: Vec<Fiber>,
    idle: Vec<u32>,
    /// Fibers that yielded, in the order they resume.
    ready: VecDeque<u32>,
    suspended: usize,
}

impl std::fmt::Debug for Fibers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Fibers")
            .field("fibers", &self.fibers.len())
            .field("idle", &self.idle.len())
            .field("suspended", &self.suspended)
            .finish()
    }
}

impl Fibers {
    pub(super) fn new(shared: Arc<WorkerShared>, stack_size: usize) -> Fibers {
        Fibers {
            shared,
            stack_size,
            fibers: Vec::new(),
            idle: Vec::new(),
            ready: VecDeque::new(),
            suspended: 0,
        }
    }

    /// Tasks suspended now.
    pub(super) fn suspended(&self) -> usize {
        self.suspended
    }

    /// Resumes every fiber that yielded before this call; `true` if any.
    pub(super) fn run_ready(&mut self) -> bool {
        let round = self.ready.len();
        for _ in 0..round {
            if let Some(id) = self.ready.pop_front() {
                self.suspended -= 1;
                self.resume(id, Resume::Wake);
            }
        }
        if round > 0 {
            self.publish();
        }
        round > 0
    }

    /// Runs `job` on an idle fiber (a new one if none is idle).
    pub(super) fn start(&mut self, job: Job) {
        let id = match self.idle.pop() {
            Some(id) => id,
            None => match self.spawn() {
                Ok(id) => id,
                Err(e) => {
                    let message = format!("no memory for a task stack of {} bytes: {e}", self.stack_size);
                    warn!("{message}");
                    fail_job(&self.shared, job, Outcome::failed(TaskStatus::Error, message));
                    return;
                }
            },
        };
        self.resume(id, Resume::Start(job));
        self.publish();
    }

    fn publish(&self) {
        self.shared.counters.suspended.store(self.suspended as u64, Ordering::Relaxed);
    }

    /// Resumes suspended fiber `id`.
    pub(super) fn wake(&mut self, id: u32) {
        match self.fibers.get(id as usize) {
            Some(f) if f.suspended && !self.ready.contains(&id) => {
                self.suspended -= 1;
                self.resume(id, Resume::Wake);
                self.publish();
            }
            _ => warn!(fiber = id, "wake-up for a fiber that is not suspended; ignored"),
        }
    }

    fn spawn(&mut self) -> std::io::Result<u32> {
        let stack = DefaultStack::new(self.stack_size)?;
        // The stack's limit is the bottom of its mapping, guard page included.
        let limit = stack.limit().get();
        let guard = (limit, limit + rustix::param::page_size());
        let id = self.fibers.len() as u32;
        let shared = self.shared.clone();
        let me = FiberRef { inbox: shared.inbox.clone(), fiber: id };
        let coroutine = Coroutine::with_stack(stack, move |yielder: &Yielder<Resume, Event>, first| {
            let ctx = FiberContext { yielder, me, owner: Cell::new(0) };
            let mut next = first;
            loop {
                if let Resume::Start(job) = next {
                    ctx.owner.set(job.owner(&shared));
                    CURRENT.set(&ctx);
                    run_job(&shared, job);
                    CURRENT.set(std::ptr::null());
                }
                next = yielder.suspend(Event::Finished);
            }
        });
        self.fibers.push(Fiber { coroutine, suspended: false, guard });
        Ok(id)
    }

    fn resume(&mut self, id: u32, input: Resume) {
        let fiber = &mut self.fibers[id as usize];
        stack_guard::enter(fiber.guard);
        let result = fiber.coroutine.resume(input);
        stack_guard::leave();
        CURRENT.set(std::ptr::null());
        match result {
            CoroutineResult::Yield(Event::Finished) => {
                fiber.suspended = false;
                self.idle.push(id);
            }
            CoroutineResult::Yield(Event::Suspended) => {
                fiber.suspended = true;
                self.suspended += 1;
            }
            CoroutineResult::Yield(Event::Yielded) => {
                fiber.suspended = true;
                self.suspended += 1;
                self.ready.push_back(id);
            }
            // The body loops forever; a fiber that returned is never reused.
            CoroutineResult::Return(()) => error!(fiber = id, "a fiber's loop returned"),
        }
    }
}

impl Drop for Fibers {
    fn drop(&mut self) {
        for fiber in &mut self.fibers {
            if fiber.suspended {
                // Unwinding a task suspended inside module code would cross
                // the module's `extern "C"` frames and abort; leak its stack.
                // SAFETY: the fiber is never resumed again.
                unsafe { fiber.coroutine.force_reset() };
            }
        }
    }
}

/// Bytes of the stacks the runtime's own admin operations run on.
const ADMIN_STACK: usize = 1 << 20;

thread_local! {
    /// Admin stacks not in use on this thread (an admin operation that
    /// waits keeps its stack; the next one takes another).
    static ADMIN_STACKS: std::cell::RefCell<Vec<DefaultStack>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// Runs `f` on a large stack of its own (suspending the fiber from inside
/// works as usual: the stack stays with the suspended task).
pub fn on_admin_stack<R>(f: impl FnOnce() -> R) -> R {
    let stack =
        ADMIN_STACKS.with(|s| s.borrow_mut().pop()).map_or_else(|| DefaultStack::new(ADMIN_STACK), Ok);
    match stack {
        Ok(stack) => {
            let mut result = None;
            let mut stack = stack;
            corosensei::on_stack(&mut stack, || result = Some(f()));
            ADMIN_STACKS.with(|s| s.borrow_mut().push(stack));
            result.expect("on_stack ran the closure")
        }
        // No memory for a separate stack: run where we are.
        Err(_) => f(),
    }
}
