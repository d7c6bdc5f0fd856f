import CPUState

/// Access kinds for translation and the TLB.
public enum AccessKind: Int32 {
    case read = 0, write = 1, exec = 2
}

/// Physical address width we present (CPUID 0x80000008).
let physAddrBits: UInt64 = 40
let physAddrMask: UInt64 = ((1 << physAddrBits) - 1) & ~0xFFF

extension CPU {
    // MARK: TLB

    @inline(__always)
    func tlbSet(_ user: Bool, _ kind: AccessKind) -> UnsafeMutablePointer<TLBEntry> {
        tlb_entries(tlb, user ? 1 : 0, kind.rawValue)
    }

    /// Drops every cached translation.
    public func flushTLB() {
        let p = UnsafeMutableRawPointer(tlb).assumingMemoryBound(to: TLBEntry.self)
        for i in 0..<(2 * Int(TLB_KINDS) * Int(TLB_ENTRIES)) {
            p[i].tag = TLB_INVALID
        }
        largePagesCached = false
        onTLBFlush?()
    }

    /// Drops the translation for one linear page (INVLPG).
    public func invalidatePage(_ lin: UInt64) {
        if largePagesCached { flushTLB(); return }
        let page = lin & ~0xFFF
        let idx = Int((lin >> 12) & UInt64(TLB_ENTRIES - 1))
        for u in [false, true] {
            for k in [AccessKind.read, .write, .exec] {
                let e = tlbSet(u, k) + idx
                if e.pointee.tag == page { e.pointee.tag = TLB_INVALID }
            }
        }
    }

    // MARK: segmentation

    /// Converts seg:offset to a linear address, checking limits and access rights.
    /// `size` is in bytes; `write` selects the writability check.
    @inline(__always)
    public func linear(seg: UInt8, off: UInt64, size: UInt8, write: Bool) throws(Fault) -> UInt64 {
        let sc = sreg + Int(seg)
        if s.pointee.mode & UInt32(MODE_CS64) != 0 {
            let lin = seg >= 4 ? sc.pointee.base &+ off : off
            // Canonical check (48-bit).
            if UInt64(bitPattern: Int64(bitPattern: lin << 16) >> 16) != lin {
                throw seg == 2 ? Fault.ss(0) : Fault.gp(0)
            }
            return lin
        }
        let attr = UInt32(sc.pointee.attr)
        let limit = UInt64(sc.pointee.limit)
        let last = off &+ UInt64(size) &- 1
        // Fast path: present expand-up data segment (writable, for writes).
        if attr & 0x9E == 0x92 || (!write && attr & 0x9C == 0x90) {
            if last > limit || last < off { throw seg == 2 ? Fault.ss(0) : Fault.gp(0) }
        } else {
            try segmentCheckSlow(seg: seg, attr: attr, limit: limit, off: off, last: last, write: write)
        }
        return (sc.pointee.base &+ off) & 0xFFFF_FFFF
    }

    func segmentCheckSlow(seg: UInt8, attr: UInt32, limit: UInt64, off: UInt64, last: UInt64,
                          write: Bool) throws(Fault) {
        let fault = seg == 2 ? Fault.ss(0) : Fault.gp(0)
        let m = s.pointee.mode
        if m & UInt32(MODE_PE) == 0 || m & UInt32(MODE_VM86) != 0 {
            // Real and virtual-8086 mode: access rights are not checked, only the limit.
            if last > limit || last < off { throw fault }
            return
        }
        if attr & UInt32(ATTR_P) == 0 { throw fault }     // null or unusable segment
        let type = attr & 0xF
        if attr & UInt32(ATTR_S) == 0 { throw fault }
        if type & 8 != 0 {
            // Code: never writable; readable only with R.
            if write || type & 2 == 0 { throw fault }
        } else if write && type & 2 == 0 {
            throw fault
        }
        if type & 0xC == 0x4 {
            // Expand-down data: valid offsets are (limit, upper].
            let upper: UInt64 = attr & UInt32(ATTR_DB) != 0 ? 0xFFFF_FFFF : 0xFFFF
            if off <= limit || last > upper || last < off { throw fault }
        } else {
            if last > limit || last < off { throw fault }
        }
    }

    // MARK: paging

    /// Walks the page tables. Returns the physical address of `lin`; sets A/D bits; fills the TLB
    /// when the page is RAM or ROM. `user` is a CPL-3 access (not an implicit supervisor one).
    public func translate(_ lin: UInt64, kind: AccessKind, user: Bool, fill: Bool = true) throws(Fault) -> UInt64 {
        let cr0 = s.pointee.cr0
        let a20 = mem.a20Mask
        if cr0 & 0x8000_0000 == 0 {
            let pa = lin & 0xFFFF_FFFF & a20
            if fill { fillTLB(lin, pa & ~0xFFF, kind, user) }
            return pa
        }
        let cr4 = s.pointee.cr4
        let efer = s.pointee.efer
        let nxe = efer & 0x800 != 0
        let write = kind == .write
        let exec = kind == .exec
        var rw = true, us = true, nx = false
        var pageSize: UInt64 = 4096
        var frame: UInt64 = 0
        // Address and value of each paging entry used (at most 4), for the A/D update.
        var entryAddr: (UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0)
        var entryVal: (UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0)
        var entryCount = 0
        func record(_ a: UInt64, _ v: UInt64) {
            switch entryCount {
            case 0: entryAddr.0 = a; entryVal.0 = v
            case 1: entryAddr.1 = a; entryVal.1 = v
            case 2: entryAddr.2 = a; entryVal.2 = v
            default: entryAddr.3 = a; entryVal.3 = v
            }
            entryCount += 1
        }

        func pf(_ present: Bool, rsvd: Bool = false) -> Fault {
            var code: UInt32 = present ? 1 : 0
            if write { code |= 2 }
            if user { code |= 4 }
            if rsvd { code |= 8 | 1 }
            if exec && ((nxe && cr4 & 0x20 != 0) || cr4 & (1 << 20) != 0) { code |= 16 }
            s.pointee.cr2 = lin
            return Fault(vector: Fault.PF, code: code)
        }

        if cr4 & 0x20 == 0 {
            // 32-bit paging.
            let pdeAddr = (s.pointee.cr3 & 0xFFFF_F000) | ((lin >> 20) & 0xFFC)
            let pde = mem.read(pdeAddr & a20, size: 4)
            if pde & 1 == 0 { throw pf(false) }
            rw = pde & 2 != 0; us = pde & 4 != 0
            record(pdeAddr, pde)
            if pde & 0x80 != 0 && cr4 & 0x10 != 0 {
                // 4 MiB page (PSE-36: bits 13..20 give physical bits 32..39).
                if pde & (1 << 21) != 0 { throw pf(true, rsvd: true) }
                pageSize = 4 << 20
                frame = (pde & 0xFFC0_0000) | ((pde & 0x001F_E000) << 19)
            } else {
                let pteAddr = (pde & 0xFFFF_F000) | ((lin >> 10) & 0xFFC)
                let pte = mem.read(pteAddr & a20, size: 4)
                if pte & 1 == 0 { throw pf(false) }
                rw = rw && pte & 2 != 0; us = us && pte & 4 != 0
                record(pteAddr, pte)
                frame = pte & 0xFFFF_F000
            }
        } else {
            let rsvdHigh: UInt64 = ~((1 << physAddrBits) - 1) & 0x7FFF_FFFF_FFFF_F000 | (nxe ? 0 : 1 << 63)
            var table: UInt64
            var level: Int
            if efer & 0x400 != 0 {
                table = s.pointee.cr3 & physAddrMask
                level = 4
            } else {
                // PAE: PDPTE selected by bits 31:30.
                let pdpteAddr = (s.pointee.cr3 & 0xFFFF_FFE0) + ((lin >> 27) & 0x18)
                let pdpte = mem.read(pdpteAddr & a20, size: 8)
                if pdpte & 1 == 0 { throw pf(false) }
                if pdpte & (rsvdHigh | 0x1E6) != 0 { throw pf(true, rsvd: true) }
                table = pdpte & physAddrMask
                level = 2
            }
            while true {
                let shift = UInt64(12 + 9 * (level - 1))
                let eAddr = table | (((lin >> shift) & 0x1FF) << 3)
                let e = mem.read(eAddr & a20, size: 8)
                if e & 1 == 0 { throw pf(false) }
                if e & rsvdHigh != 0 { throw pf(true, rsvd: true) }
                rw = rw && e & 2 != 0; us = us && e & 4 != 0
                if nxe && e & (1 << 63) != 0 { nx = true }
                record(eAddr, e)
                if level == 1 {
                    frame = e & physAddrMask
                    break
                }
                if e & 0x80 != 0 {
                    if level == 4 { throw pf(true, rsvd: true) }
                    if level == 3 && (efer & 0x400 == 0) { throw pf(true, rsvd: true) }
                    // Large page: bits shift-1..13 reserved (bit 12 is PAT).
                    let lowMask: UInt64 = ((1 << shift) - 1) & ~0x1FFF
                    if e & lowMask != 0 { throw pf(true, rsvd: true) }
                    pageSize = 1 << shift
                    frame = e & physAddrMask & ~(pageSize - 1)
                    break
                }
                table = e & physAddrMask
                level -= 1
            }
        }

        // Permission checks.
        let wp = cr0 & 0x1_0000 != 0
        if user {
            if !us { throw pf(true) }
            if write && !rw { throw pf(true) }
        } else {
            if write && !rw && wp { throw pf(true) }
            if us {
                if exec && cr4 & (1 << 20) != 0 { throw pf(true) }       // SMEP
                if !exec && cr4 & (1 << 21) != 0 && (s.pointee.rflags & FlagBit.AC == 0 || implicitSupervisor) {
                    throw pf(true)                                        // SMAP
                }
            }
        }
        if exec && nx { throw pf(true) }

        // Accessed / dirty.
        for i in 0..<entryCount {
            let addr: UInt64, v: UInt64
            switch i {
            case 0: addr = entryAddr.0; v = entryVal.0
            case 1: addr = entryAddr.1; v = entryVal.1
            case 2: addr = entryAddr.2; v = entryVal.2
            default: addr = entryAddr.3; v = entryVal.3
            }
            var nv = v | 0x20
            if i == entryCount - 1 && write { nv |= 0x40 }
            if nv != v {
                let is32 = cr4 & 0x20 == 0
                mem.write(addr & a20, size: is32 ? 4 : 8, value: nv)
            }
        }
        let pa = (frame | (lin & (pageSize - 1))) & a20
        if fill {
            // Supervisor entries for user pages under SMAP depend on RFLAGS.AC: never cached.
            let smapUser = !user && us && cr4 & (1 << 21) != 0
            if !smapUser {
                if pageSize > 4096 { largePagesCached = true }
                fillTLB(lin, pa & ~0xFFF, kind, user)
            }
        }
        return pa
    }

    @inline(__always)
    func fillTLB(_ lin: UInt64, _ paPage: UInt64, _ kind: AccessKind, _ user: Bool) {
        guard let host = mem.hostPointer(paPage, write: kind == .write) else { return }
        let idx = Int((lin >> 12) & UInt64(TLB_ENTRIES - 1))
        let e = tlbSet(user, kind) + idx
        let page = lin & ~0xFFF
        e.pointee.tag = page
        e.pointee.addend = UInt64(UInt(bitPattern: host)) &- page
        e.pointee.phys = paPage
    }

    // MARK: linear-address access

    @inline(__always)
    public func readLinear(_ lin: UInt64, size: Int, user: Bool) throws(Fault) -> UInt64 {
        let e = tlbSet(user, .read) + Int((lin >> 12) & UInt64(TLB_ENTRIES - 1))
        if e.pointee.tag == lin & ~0xFFF && Int(lin & 0xFFF) + size <= 4096 {
            let p = UnsafeRawPointer(bitPattern: UInt(e.pointee.addend &+ lin))!
            switch size {
            case 1: return UInt64(p.load(as: UInt8.self))
            case 2: return UInt64(p.loadUnaligned(as: UInt16.self))
            case 4: return UInt64(p.loadUnaligned(as: UInt32.self))
            default: return p.loadUnaligned(as: UInt64.self)
            }
        }
        return try readLinearSlow(lin, size: size, user: user, kind: .read)
    }

    @inline(never)
    func readLinearSlow(_ lin: UInt64, size: Int, user: Bool, kind: AccessKind) throws(Fault) -> UInt64 {
        if Int(lin & 0xFFF) + size > 4096 {
            // Page-crossing: translate both pages before reading.
            let pa1 = try translate(lin, kind: kind, user: user, fill: false)
            let lin2 = (lin | 0xFFF) &+ 1
            let pa2 = try translate(lin2, kind: kind, user: user, fill: false)
            let n1 = 4096 - Int(lin & 0xFFF)
            var v: UInt64 = 0
            for i in 0..<size {
                let pa = i < n1 ? pa1 + UInt64(i) : pa2 + UInt64(i - n1)
                v |= mem.read(pa, size: 1) << (8 * UInt64(i))
            }
            return v
        }
        let pa = try translate(lin, kind: kind, user: user)
        return mem.read(pa, size: size)
    }

    @inline(__always)
    public func writeLinear(_ lin: UInt64, size: Int, user: Bool, _ value: UInt64) throws(Fault) {
        let e = tlbSet(user, .write) + Int((lin >> 12) & UInt64(TLB_ENTRIES - 1))
        if e.pointee.tag == lin & ~0xFFF && Int(lin & 0xFFF) + size <= 4096 {
            let p = UnsafeMutableRawPointer(bitPattern: UInt(e.pointee.addend &+ lin))!
            switch size {
            case 1: p.storeBytes(of: UInt8(truncatingIfNeeded: value), as: UInt8.self)
            case 2: p.storeBytes(of: UInt16(truncatingIfNeeded: value), as: UInt16.self)
            case 4: p.storeBytes(of: UInt32(truncatingIfNeeded: value), as: UInt32.self)
            default: p.storeBytes(of: value, as: UInt64.self)
            }
            return
        }
        try writeLinearSlow(lin, size: size, user: user, value)
    }

    @inline(never)
    func writeLinearSlow(_ lin: UInt64, size: Int, user: Bool, _ value: UInt64) throws(Fault) {
        if Int(lin & 0xFFF) + size > 4096 {
            let pa1 = try translate(lin, kind: .write, user: user, fill: false)
            let lin2 = (lin | 0xFFF) &+ 1
            let pa2 = try translate(lin2, kind: .write, user: user, fill: false)
            let n1 = 4096 - Int(lin & 0xFFF)
            for i in 0..<size {
                let pa = i < n1 ? pa1 + UInt64(i) : pa2 + UInt64(i - n1)
                mem.write(pa, size: 1, value: value >> (8 * UInt64(i)))
            }
            return
        }
        let pa = try translate(lin, kind: .write, user: user)
        mem.write(pa, size: size, value: value)
    }

    /// Checks that a write to [lin, lin+size) would succeed, without writing (for instructions
    /// that must fault before changing any state).
    public func probeWrite(_ lin: UInt64, size: Int, user: Bool) throws(Fault) {
        let e = tlbSet(user, .write) + Int((lin >> 12) & UInt64(TLB_ENTRIES - 1))
        if e.pointee.tag == lin & ~0xFFF && Int(lin & 0xFFF) + size <= 4096 { return }
        _ = try translate(lin, kind: .write, user: user, fill: false)
        if Int(lin & 0xFFF) + size > 4096 {
            _ = try translate((lin | 0xFFF) &+ 1, kind: .write, user: user, fill: false)
        }
    }

    // MARK: segment:offset access (instruction operands)

    @inline(__always) var userAccess: Bool { s.pointee.cpl == 3 }

    @inline(__always)
    public func read(seg: UInt8, off: UInt64, size: UInt8) throws(Fault) -> UInt64 {
        let lin = try linear(seg: seg, off: off, size: size, write: false)
        return try readLinear(lin, size: Int(size), user: userAccess)
    }

    /// Reads the destination of a read-modify-write instruction: the access is checked (and a
    /// page fault reported) as a write, as the hardware's locked/RMW read does.
    @inline(__always)
    public func readRMW(seg: UInt8, off: UInt64, size: UInt8) throws(Fault) -> UInt64 {
        let lin = try linear(seg: seg, off: off, size: size, write: true)
        let user = userAccess
        let e = tlbSet(user, .write) + Int((lin >> 12) & UInt64(TLB_ENTRIES - 1))
        if e.pointee.tag == lin & ~0xFFF && Int(lin & 0xFFF) + Int(size) <= 4096 {
            let p = UnsafeRawPointer(bitPattern: UInt(e.pointee.addend &+ lin))!
            switch size {
            case 1: return UInt64(p.load(as: UInt8.self))
            case 2: return UInt64(p.loadUnaligned(as: UInt16.self))
            case 4: return UInt64(p.loadUnaligned(as: UInt32.self))
            default: return p.loadUnaligned(as: UInt64.self)
            }
        }
        return try readLinearSlow(lin, size: Int(size), user: user, kind: .write)
    }

    @inline(__always)
    public func write(seg: UInt8, off: UInt64, size: UInt8, _ v: UInt64) throws(Fault) {
        let lin = try linear(seg: seg, off: off, size: size, write: true)
        try writeLinear(lin, size: Int(size), user: userAccess, v)
    }

    // MARK: implicit supervisor accesses (descriptor tables, TSS, IDT)

    public func readSystem(_ lin: UInt64, size: Int) throws(Fault) -> UInt64 {
        implicitSupervisor = true
        defer { implicitSupervisor = false }
        return try readLinear(lin, size: size, user: false)
    }

    public func writeSystem(_ lin: UInt64, size: Int, _ v: UInt64) throws(Fault) {
        implicitSupervisor = true
        defer { implicitSupervisor = false }
        try writeLinear(lin, size: size, user: false, v)
    }

    // MARK: instruction fetch

    /// The directly readable window at RIP, and the slow path for bytes beyond it.
    @inline(__always)
    func fetchWindow() throws(Fault) -> FetchWindow {
        let cs = sreg + 1
        let ip = s.pointee.rip
        var lin: UInt64
        var avail = 15
        if s.pointee.mode & UInt32(MODE_CS64) != 0 {
            lin = ip
            if UInt64(bitPattern: Int64(bitPattern: lin << 16) >> 16) != lin { throw Fault.gp(0) }
        } else {
            let limit = UInt64(cs.pointee.limit)
            if ip > limit { throw Fault.gp(0) }
            avail = Int(min(15, limit - ip + 1))
            lin = (cs.pointee.base &+ ip) & 0xFFFF_FFFF
        }
        avail = min(avail, 4096 - Int(lin & 0xFFF))
        let user = userAccess
        let e = tlbSet(user, .exec) + Int((lin >> 12) & UInt64(TLB_ENTRIES - 1))
        if e.pointee.tag != lin & ~0xFFF {
            _ = try translate(lin, kind: .exec, user: user)
            if e.pointee.tag != lin & ~0xFFF {
                // Not RAM/ROM (executing from MMIO or unmapped space): byte-by-byte slow path.
                return FetchWindow(ptr: UnsafePointer(fetchScratch), avail: 0)
            }
        }
        return FetchWindow(ptr: UnsafePointer(bitPattern: UInt(e.pointee.addend &+ lin))!, avail: avail)
    }

    /// Fetches instruction byte `i` (relative to RIP) outside the fast window.
    func fetchSlow(_ i: Int) throws(Fault) -> UInt8 {
        let ip = s.pointee.rip &+ UInt64(i)
        var lin: UInt64
        if s.pointee.mode & UInt32(MODE_CS64) != 0 {
            lin = ip
            if UInt64(bitPattern: Int64(bitPattern: lin << 16) >> 16) != lin { throw Fault.gp(0) }
        } else {
            let cs = sreg + 1
            let eip = s.pointee.mode & UInt32(MODE_CS32) != 0 ? ip & 0xFFFF_FFFF : ip & 0xFFFF
            if eip > UInt64(cs.pointee.limit) { throw Fault.gp(0) }
            lin = (cs.pointee.base &+ eip) & 0xFFFF_FFFF
        }
        let pa = try translate(lin, kind: .exec, user: userAccess)
        return UInt8(truncatingIfNeeded: mem.read(pa, size: 1))
    }
}
