// Typed wrappers over the Linux KVM API (Documentation/virt/kvm/api.rst): the system fd
// (/dev/kvm), a VM fd and vCPU fds. Every ioctl goes through a `KVMBackend`, so the wrappers and
// the accelerator built on them can be tested against a fake kernel; `LinuxKVMBackend` is the
// real one. The C side (Sources/CKVM) only adapts ioctl(2) and the kvm structs for Swift.
import CKVM
#if canImport(Glibc)
import Glibc
#endif

/// A failed KVM call: which operation and the errno it returned.
public struct KVMError: Error, Equatable, CustomStringConvertible {
    public let operation: String
    public let errno: Int32
    public init(_ operation: String, errno: Int32) {
        self.operation = operation
        self.errno = errno
    }
    public var description: String {
        "kvm: \(operation) failed: \(String(cString: strerror(errno))) (errno \(errno))"
    }
}

/// The system calls the wrappers make. Return conventions follow ckvm.h: a result >= 0, or
/// -errno. `mmap` returns nil on failure.
public protocol KVMBackend: AnyObject {
    func open(path: String) -> Int32
    func close(_ fd: Int32)
    func ioctl(_ fd: Int32, _ request: UInt, _ arg: UnsafeMutableRawPointer?) -> Int32
    func ioctl(_ fd: Int32, _ request: UInt, value: UInt) -> Int32
    func mmap(fd: Int32, size: Int) -> UnsafeMutableRawPointer?
    func munmap(_ p: UnsafeMutableRawPointer, size: Int)
}

/// The real kernel.
public final class LinuxKVMBackend: KVMBackend {
    public init() {}
    public func open(path: String) -> Int32 {
        let fd = Glibc.open(path, O_RDWR | O_CLOEXEC)
        return fd < 0 ? -errno : fd
    }
    public func close(_ fd: Int32) { _ = Glibc.close(fd) }
    public func ioctl(_ fd: Int32, _ request: UInt, _ arg: UnsafeMutableRawPointer?) -> Int32 {
        ckvm_ioctl_ptr(fd, request, arg)
    }
    public func ioctl(_ fd: Int32, _ request: UInt, value: UInt) -> Int32 {
        ckvm_ioctl_int(fd, request, value)
    }
    public func mmap(fd: Int32, size: Int) -> UnsafeMutableRawPointer? {
        let p = Glibc.mmap(nil, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0)
        return p == MAP_FAILED ? nil : p
    }
    public func munmap(_ p: UnsafeMutableRawPointer, size: Int) { _ = Glibc.munmap(p, size) }
}

/// One CPUID leaf as KVM_GET_SUPPORTED_CPUID / KVM_SET_CPUID2 see it.
public struct KVMCPUIDEntry: Equatable, Sendable {
    public var function: UInt32
    public var index: UInt32
    public var flags: UInt32
    public var eax: UInt32, ebx: UInt32, ecx: UInt32, edx: UInt32
    public init(function: UInt32, index: UInt32 = 0, flags: UInt32 = 0,
                eax: UInt32 = 0, ebx: UInt32 = 0, ecx: UInt32 = 0, edx: UInt32 = 0) {
        self.function = function; self.index = index; self.flags = flags
        self.eax = eax; self.ebx = ebx; self.ecx = ecx; self.edx = edx
    }
    init(_ e: kvm_cpuid_entry2) {
        self.init(function: e.function, index: e.index, flags: e.flags, eax: e.eax, ebx: e.ebx, ecx: e.ecx, edx: e.edx)
    }
    var raw: kvm_cpuid_entry2 {
        var e = kvm_cpuid_entry2()
        e.function = function; e.index = index; e.flags = flags
        e.eax = eax; e.ebx = ebx; e.ecx = ecx; e.edx = edx
        return e
    }
}

@inline(__always) func kvmCheck(_ r: Int32, _ op: String) throws(KVMError) -> Int32 {
    if r < 0 { throw KVMError(op, errno: -r) }
    return r
}

// MARK: - /dev/kvm

/// The KVM subsystem: /dev/kvm, API version, capabilities, supported CPUID, MSR list.
public final class KVMSystem {
    /// /dev/kvm, or $EMU_KVM_DEVICE when set (hosts with the device elsewhere; tests of the
    /// "KVM unusable" paths).
    public static let defaultPath: String = {
        if let p = getenv("EMU_KVM_DEVICE"), p.pointee != 0 { return String(cString: p) }
        return "/dev/kvm"
    }()
    /// The only stable API version there is (KVM_API_VERSION).
    public static let apiVersion: Int32 = 12

    public let backend: KVMBackend
    public let fd: Int32
    public let apiVersion: Int32

    /// Opens the KVM device and checks the API version.
    public init(path: String = KVMSystem.defaultPath, backend: KVMBackend = LinuxKVMBackend()) throws(KVMError) {
        self.backend = backend
        let fd = backend.open(path: path)
        if fd < 0 { throw KVMError("open \(path)", errno: -fd) }
        self.fd = fd
        let v = backend.ioctl(fd, CKVM_REQ_GET_API_VERSION, value: 0)
        if v != KVMSystem.apiVersion {
            backend.close(fd)
            throw KVMError("KVM_GET_API_VERSION (got \(v), need \(KVMSystem.apiVersion))", errno: v < 0 ? -v : EINVAL)
        }
        apiVersion = v
    }

    deinit { backend.close(fd) }

    /// Why KVM cannot be used here (nil when /dev/kvm opens and speaks API 12).
    public static func unavailableReason(path: String = KVMSystem.defaultPath) -> String? {
        do {
            _ = try KVMSystem(path: path)
            return nil
        } catch {
            return error.description
        }
    }

    /// KVM_CHECK_EXTENSION: 0 when the capability is absent, else its (positive) value.
    public func checkExtension(_ cap: Int32) -> Int32 {
        max(0, backend.ioctl(fd, CKVM_REQ_CHECK_EXTENSION, value: UInt(cap)))
    }

    /// Size of the per-vCPU shared kvm_run mapping.
    public func vcpuMmapSize() throws(KVMError) -> Int {
        Int(try kvmCheck(backend.ioctl(fd, CKVM_REQ_GET_VCPU_MMAP_SIZE, value: 0), "KVM_GET_VCPU_MMAP_SIZE"))
    }

    /// KVM_GET_SUPPORTED_CPUID, growing the buffer while the kernel answers E2BIG.
    public func supportedCPUID() throws(KVMError) -> [KVMCPUIDEntry] {
        var n: UInt32 = 64
        while true {
            guard let c = ckvm_cpuid2_alloc(n) else { throw KVMError("KVM_GET_SUPPORTED_CPUID", errno: ENOMEM) }
            defer { ckvm_free(c) }
            let r = backend.ioctl(fd, CKVM_REQ_GET_SUPPORTED_CPUID, UnsafeMutableRawPointer(c))
            if r == -E2BIG && n < 4096 { n *= 2; continue }
            _ = try kvmCheck(r, "KVM_GET_SUPPORTED_CPUID")
            let count = Int(min(c.pointee.nent, n))
            let e = ckvm_cpuid2_entries(c)!
            return (0..<count).map { KVMCPUIDEntry(e[$0]) }
        }
    }

    /// KVM_GET_MSR_INDEX_LIST: the MSRs KVM saves and restores.
    public func msrIndexList() throws(KVMError) -> [UInt32] {
        var n: UInt32 = 256
        while true {
            guard let l = ckvm_msr_list_alloc(n) else { throw KVMError("KVM_GET_MSR_INDEX_LIST", errno: ENOMEM) }
            defer { ckvm_free(l) }
            let r = backend.ioctl(fd, CKVM_REQ_GET_MSR_INDEX_LIST, UnsafeMutableRawPointer(l))
            if r == -E2BIG && n < 65536 { n = max(n * 2, l.pointee.nmsrs); continue }
            _ = try kvmCheck(r, "KVM_GET_MSR_INDEX_LIST")
            let count = Int(min(l.pointee.nmsrs, n))
            let p = ckvm_msr_list_indices(l)!
            return (0..<count).map { p[$0] }
        }
    }

    public func createVM() throws(KVMError) -> KVMVM {
        let vmfd = try kvmCheck(backend.ioctl(fd, CKVM_REQ_CREATE_VM, value: 0), "KVM_CREATE_VM")
        return KVMVM(system: self, fd: vmfd)
    }
}

// MARK: - VM

/// A KVM virtual machine: memory slots, system addresses, interrupt controller, vCPUs.
public final class KVMVM {
    public let system: KVMSystem
    public let fd: Int32
    var backend: KVMBackend { system.backend }

    /// One guest-physical memory slot backed by host memory.
    public struct MemorySlot: Equatable {
        public var slot: UInt32
        public var guestPhysical: UInt64
        public var size: UInt64
        public var host: UnsafeMutableRawPointer
        public var readOnly: Bool
        public init(slot: UInt32, guestPhysical: UInt64, size: UInt64, host: UnsafeMutableRawPointer, readOnly: Bool) {
            self.slot = slot; self.guestPhysical = guestPhysical; self.size = size
            self.host = host; self.readOnly = readOnly
        }
    }

    init(system: KVMSystem, fd: Int32) {
        self.system = system
        self.fd = fd
    }

    deinit { backend.close(fd) }

    /// KVM_CHECK_EXTENSION on the VM (some answers differ per VM type).
    public func checkExtension(_ cap: Int32) -> Int32 {
        max(0, backend.ioctl(fd, CKVM_REQ_CHECK_EXTENSION, value: UInt(cap)))
    }

    /// KVM_SET_USER_MEMORY_REGION. Addresses and size must be page aligned (checked here, so
    /// a bad layout is reported by name rather than as EINVAL).
    public func setMemorySlot(_ s: MemorySlot) throws(KVMError) {
        let hostAddr = UInt64(UInt(bitPattern: s.host))
        if s.guestPhysical & 0xFFF != 0 || s.size & 0xFFF != 0 || hostAddr & 0xFFF != 0 || s.size == 0 {
            throw KVMError("KVM_SET_USER_MEMORY_REGION slot \(s.slot) (unaligned: guest 0x\(String(s.guestPhysical, radix: 16)) size 0x\(String(s.size, radix: 16)) host 0x\(String(hostAddr, radix: 16)))", errno: EINVAL)
        }
        var r = kvm_userspace_memory_region()
        r.slot = s.slot
        r.flags = s.readOnly ? CKVM_MEM_READONLY : 0
        r.guest_phys_addr = s.guestPhysical
        r.memory_size = s.size
        r.userspace_addr = hostAddr
        _ = try kvmCheck(backend.ioctl(fd, CKVM_REQ_SET_USER_MEMORY_REGION, &r), "KVM_SET_USER_MEMORY_REGION slot \(s.slot)")
    }

    /// Deletes a slot (memory_size 0).
    public func deleteMemorySlot(_ slot: UInt32) throws(KVMError) {
        var r = kvm_userspace_memory_region()
        r.slot = slot
        _ = try kvmCheck(backend.ioctl(fd, CKVM_REQ_SET_USER_MEMORY_REGION, &r), "KVM_SET_USER_MEMORY_REGION delete slot \(slot)")
    }

    /// KVM_SET_TSS_ADDR: three pages below 4 GiB outside every slot (Intel real-mode support).
    public func setTSSAddress(_ a: UInt64) throws(KVMError) {
        _ = try kvmCheck(backend.ioctl(fd, CKVM_REQ_SET_TSS_ADDR, value: UInt(a)), "KVM_SET_TSS_ADDR")
    }

    /// KVM_SET_IDENTITY_MAP_ADDR: one page below 4 GiB outside every slot.
    public func setIdentityMapAddress(_ a: UInt64) throws(KVMError) {
        var v = a
        _ = try kvmCheck(backend.ioctl(fd, CKVM_REQ_SET_IDENTITY_MAP_ADDR, &v), "KVM_SET_IDENTITY_MAP_ADDR")
    }

    /// KVM_CREATE_IRQCHIP: in-kernel PIC pair, IOAPIC and local APICs.
    public func createIRQChip() throws(KVMError) {
        _ = try kvmCheck(backend.ioctl(fd, CKVM_REQ_CREATE_IRQCHIP, value: 0), "KVM_CREATE_IRQCHIP")
    }

    /// KVM_IRQ_LINE: drives a GSI of the in-kernel irqchip.
    public func setIRQLine(_ irq: UInt32, level: Bool) throws(KVMError) {
        var l = kvm_irq_level()
        ckvm_irq_level_set(&l, irq, level ? 1 : 0)
        _ = try kvmCheck(backend.ioctl(fd, CKVM_REQ_IRQ_LINE, &l), "KVM_IRQ_LINE \(irq)")
    }

    public func createVCPU(id: Int = 0) throws(KVMError) -> KVMVCPU {
        let size = try system.vcpuMmapSize()
        let vfd = try kvmCheck(backend.ioctl(fd, CKVM_REQ_CREATE_VCPU, value: UInt(id)), "KVM_CREATE_VCPU \(id)")
        guard size >= MemoryLayout<kvm_run>.size, let p = backend.mmap(fd: vfd, size: size) else {
            backend.close(vfd)
            throw KVMError("mmap kvm_run of vCPU \(id)", errno: size < MemoryLayout<kvm_run>.size ? EINVAL : ENOMEM)
        }
        return KVMVCPU(vm: self, fd: vfd, id: id, run: p.assumingMemoryBound(to: kvm_run.self), mmapSize: size)
    }
}

// MARK: - vCPU

/// One virtual CPU: the shared kvm_run page and the register ioctls.
public final class KVMVCPU {
    public let vm: KVMVM
    public let fd: Int32
    public let id: Int
    /// The shared kvm_run structure (exit information, immediate_exit, interrupt window).
    public let run: UnsafeMutablePointer<kvm_run>
    let mmapSize: Int
    var backend: KVMBackend { vm.backend }

    init(vm: KVMVM, fd: Int32, id: Int, run: UnsafeMutablePointer<kvm_run>, mmapSize: Int) {
        self.vm = vm; self.fd = fd; self.id = id; self.run = run; self.mmapSize = mmapSize
    }

    deinit {
        backend.munmap(UnsafeMutableRawPointer(run), size: mmapSize)
        backend.close(fd)
    }

    private func get<T>(_ req: UInt, _ name: String, _ zero: T) throws(KVMError) -> T {
        var v = zero
        _ = try kvmCheck(backend.ioctl(fd, req, &v), name)
        return v
    }

    private func set<T>(_ req: UInt, _ name: String, _ value: T) throws(KVMError) {
        var v = value
        _ = try kvmCheck(backend.ioctl(fd, req, &v), name)
    }

    public func getRegs() throws(KVMError) -> kvm_regs { try get(CKVM_REQ_GET_REGS, "KVM_GET_REGS", kvm_regs()) }
    public func setRegs(_ r: kvm_regs) throws(KVMError) { try set(CKVM_REQ_SET_REGS, "KVM_SET_REGS", r) }
    public func getSregs() throws(KVMError) -> kvm_sregs { try get(CKVM_REQ_GET_SREGS, "KVM_GET_SREGS", kvm_sregs()) }
    public func setSregs(_ s: kvm_sregs) throws(KVMError) { try set(CKVM_REQ_SET_SREGS, "KVM_SET_SREGS", s) }
    public func getFPU() throws(KVMError) -> kvm_fpu { try get(CKVM_REQ_GET_FPU, "KVM_GET_FPU", kvm_fpu()) }
    public func setFPU(_ f: kvm_fpu) throws(KVMError) { try set(CKVM_REQ_SET_FPU, "KVM_SET_FPU", f) }
    public func getVCPUEvents() throws(KVMError) -> kvm_vcpu_events {
        try get(CKVM_REQ_GET_VCPU_EVENTS, "KVM_GET_VCPU_EVENTS", kvm_vcpu_events())
    }
    public func setVCPUEvents(_ e: kvm_vcpu_events) throws(KVMError) {
        try set(CKVM_REQ_SET_VCPU_EVENTS, "KVM_SET_VCPU_EVENTS", e)
    }
    public func getMPState() throws(KVMError) -> UInt32 {
        try get(CKVM_REQ_GET_MP_STATE, "KVM_GET_MP_STATE", kvm_mp_state()).mp_state
    }
    public func setMPState(_ s: UInt32) throws(KVMError) {
        try set(CKVM_REQ_SET_MP_STATE, "KVM_SET_MP_STATE", kvm_mp_state(mp_state: s))
    }
    public func getDebugRegs() throws(KVMError) -> kvm_debugregs {
        try get(CKVM_REQ_GET_DEBUGREGS, "KVM_GET_DEBUGREGS", kvm_debugregs())
    }
    public func setDebugRegs(_ d: kvm_debugregs) throws(KVMError) {
        try set(CKVM_REQ_SET_DEBUGREGS, "KVM_SET_DEBUGREGS", d)
    }
    public func getLAPIC() throws(KVMError) -> kvm_lapic_state {
        try get(CKVM_REQ_GET_LAPIC, "KVM_GET_LAPIC", kvm_lapic_state())
    }
    public func setLAPIC(_ l: kvm_lapic_state) throws(KVMError) { try set(CKVM_REQ_SET_LAPIC, "KVM_SET_LAPIC", l) }

    /// XCR0 through KVM_GET_XCRS (0 entries → the architectural reset value 1).
    public func getXCR0() throws(KVMError) -> UInt64 {
        let x = try get(CKVM_REQ_GET_XCRS, "KVM_GET_XCRS", kvm_xcrs())
        var out: UInt64 = 1
        withUnsafeBytes(of: x.xcrs) { raw in
            let e = raw.bindMemory(to: kvm_xcr.self)
            for i in 0..<min(Int(x.nr_xcrs), e.count) where e[i].xcr == 0 { out = e[i].value }
        }
        return out
    }

    public func setXCR0(_ v: UInt64) throws(KVMError) {
        var x = kvm_xcrs()
        x.nr_xcrs = 1
        withUnsafeMutableBytes(of: &x.xcrs) { raw in
            let e = raw.bindMemory(to: kvm_xcr.self)
            e[0].xcr = 0
            e[0].value = v
        }
        try set(CKVM_REQ_SET_XCRS, "KVM_SET_XCRS", x)
    }

    /// KVM_SET_CPUID2.
    public func setCPUID(_ entries: [KVMCPUIDEntry]) throws(KVMError) {
        guard let c = ckvm_cpuid2_alloc(UInt32(entries.count)) else { throw KVMError("KVM_SET_CPUID2", errno: ENOMEM) }
        defer { ckvm_free(c) }
        let e = ckvm_cpuid2_entries(c)!
        for (i, x) in entries.enumerated() { e[i] = x.raw }
        _ = try kvmCheck(backend.ioctl(fd, CKVM_REQ_SET_CPUID2, UnsafeMutableRawPointer(c)), "KVM_SET_CPUID2")
    }

    /// KVM_GET_MSRS: values of the MSRs KVM could read. KVM stops at the first MSR it cannot
    /// read, so the result may be a prefix of `indices`.
    public func getMSRs(_ indices: [UInt32]) throws(KVMError) -> [(index: UInt32, value: UInt64)] {
        if indices.isEmpty { return [] }
        guard let m = ckvm_msrs_alloc(UInt32(indices.count)) else { throw KVMError("KVM_GET_MSRS", errno: ENOMEM) }
        defer { ckvm_free(m) }
        let e = ckvm_msrs_entries(m)!
        for (i, x) in indices.enumerated() { e[i].index = x }
        let n = try kvmCheck(backend.ioctl(fd, CKVM_REQ_GET_MSRS, UnsafeMutableRawPointer(m)), "KVM_GET_MSRS")
        return (0..<min(Int(n), indices.count)).map { (e[$0].index, e[$0].data) }
    }

    /// KVM_SET_MSRS: returns how many were written (KVM stops at the first it rejects).
    @discardableResult
    public func setMSRs(_ entries: [(index: UInt32, value: UInt64)]) throws(KVMError) -> Int {
        if entries.isEmpty { return 0 }
        guard let m = ckvm_msrs_alloc(UInt32(entries.count)) else { throw KVMError("KVM_SET_MSRS", errno: ENOMEM) }
        defer { ckvm_free(m) }
        let e = ckvm_msrs_entries(m)!
        for (i, x) in entries.enumerated() { e[i].index = x.index; e[i].data = x.value }
        return Int(try kvmCheck(backend.ioctl(fd, CKVM_REQ_SET_MSRS, UnsafeMutableRawPointer(m)), "KVM_SET_MSRS"))
    }

    /// KVM_TRANSLATE: guest linear → physical with the vCPU's current paging (nil if not mapped).
    public func translate(_ linear: UInt64) throws(KVMError) -> UInt64? {
        var t = kvm_translation()
        t.linear_address = linear
        _ = try kvmCheck(backend.ioctl(fd, CKVM_REQ_TRANSLATE, &t), "KVM_TRANSLATE")
        return t.valid != 0 ? t.physical_address : nil
    }

    /// KVM_INTERRUPT: queues an external interrupt vector (userspace irqchip only).
    public func interrupt(_ vector: UInt8) throws(KVMError) {
        var i = kvm_interrupt(irq: UInt32(vector))
        _ = try kvmCheck(backend.ioctl(fd, CKVM_REQ_INTERRUPT, &i), "KVM_INTERRUPT \(vector)")
    }

    /// KVM_NMI: queues an NMI (userspace irqchip).
    public func nmi() throws(KVMError) {
        _ = try kvmCheck(backend.ioctl(fd, CKVM_REQ_NMI, value: 0), "KVM_NMI")
    }

    /// Result of one KVM_RUN.
    public enum RunResult: Equatable {
        case exit(UInt32)        // run.exit_reason is valid
        case interrupted         // EINTR/EAGAIN: a signal or immediate_exit; nothing to handle
    }

    /// One KVM_RUN.
    public func runOnce() throws(KVMError) -> RunResult {
        let r = backend.ioctl(fd, CKVM_REQ_RUN, value: 0)
        if r == -EINTR || r == -EAGAIN { return .interrupted }
        _ = try kvmCheck(r, "KVM_RUN")
        return .exit(run.pointee.exit_reason)
    }
}
