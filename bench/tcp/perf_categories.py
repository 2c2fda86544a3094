"""Sums a `perf script -F comm,tid,ip,sym,dso` dump of rco (recorded with
--call-graph dwarf) into coarse categories: for each sample, the first
category (in the order below) that matches any user-space frame of its
stack. Kernel samples are attributed to the user code that made the
system call. Used by bench/tcp/profile.sh.

Usage: python3 perf_categories.py PERF_SCRIPT_OUTPUT
"""
import sys, re, collections
pats = [
 ("drop of snapshot maps / Results (BTreeMap<Arc<str>,Value> drops)", r"drop_in_place<alloc::collections::btree|BTreeMap<K,V,A> as core::ops::drop|drop_in_place<alloc::rc::Rc<core::cell::RefCell<alloc::collections::btree|drop_in_place<alloc::rc::Rc<rco_lang::value::ResultValue"),
 ("build of snapshot maps: sockets::to_value, Conn::info (String/format/Arc<str>)", r"sockets::to_value|Conn::info"),
 ("tcp_read: zeroed read buffer (vec![0; max_bytes]) + read syscall wrapper", r"read_once"),
 ("option-map parsing (Options::new)", r"rco_lang::sockets::Options"),
 ("reactor timers", r"arm_timer|Timers<|::expire|on_timeout"),
 ("mailbox / wake / scheduler (rco_actors)", r"rco_actors::mailbox|rco_actors::actor_ref|rco_actors::sleep|worker::schedule|crossbeam|Sleep"),
 ("reactor request code (with_state, lock, pump, write)", r"rco_reactor::"),
 ("VM proper (execute, lookup, assign, words)", r"rco_lang::"),
 ("runtime glue (TaskActor::run, perform)", r"rco::runtime|rco::sockets"),
 ("scheduler loop (run_actor, find_task)", r"rco_actors::"),
]
comp = [(l, re.compile(p)) for l, p in pats]
user = collections.Counter(); kern = collections.Counter(); total = 0
def flush(comm, frames):
    global total
    if not frames: return
    total += 1
    bucket = kern if 'kernel' in frames[0][1] else user
    ufr = [s for s, d in frames if 'kernel' not in d]
    for l, c in comp:
        if any(c.search(s) for s in ufr):
            bucket[(comm, l)] += 1; return
    bucket[(comm, "other: " + (ufr[0] if ufr else "kernel only"))] += 1
comm = None; frames = []
for line in open(sys.argv[1]):
    if not line.strip():
        flush(comm, frames); frames = []; continue
    if not line.startswith(('\t', ' ')):
        comm = line.split()[0]; continue
    m = re.match(r'\s*[0-9a-f]+ (.*) \((.*)\)$', line.rstrip())
    if m: frames.append((m.group(1), m.group(2)))
flush(comm, frames)
us = sum(user.values()); ks = sum(kern.values())
print(f"samples {total}: user {us} ({100*us/total:.1f}%), kernel {ks} ({100*ks/total:.1f}%)")
print("USER time by category (% of user samples):")
for (c, l), n in sorted(user.items(), key=lambda x: -x[1])[:25]:
    print(f"  {100*n/us:5.1f}%  {c:14s} {l}")
print("KERNEL time by category of the user code that entered the kernel (% of kernel samples):")
for (c, l), n in sorted(kern.items(), key=lambda x: -x[1])[:12]:
    print(f"  {100*n/ks:5.1f}%  {c:14s} {l}")
