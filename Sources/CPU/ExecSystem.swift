import CPUState

// System instructions: control/debug registers, MSRs, CPUID, descriptor-table registers,
// SYSCALL/SYSRET, SYSENTER/SYSEXIT, SWAPGS, TSC, cache/TLB control, HLT, CLI/STI.

extension CPU {
    func execSystem(_ d: inout Instr, _ ea: UInt64) throws(Fault) {
        switch d.mn {
        case .LAR, .LSL, .VERR, .VERW, .ARPL, .SLDT, .STR, .LLDT, .LTR:
            try execDescriptor(&d, ea)
        case .HLT:
            s.pointee.halted = 1
        case .CLI, .STI:
            if !realMode && UInt64(cpl) > iopl { throw Fault.gp(0) }
            if v86 && iopl < 3 { throw Fault.gp(0) }
            if d.mn == .CLI {
                s.pointee.rflags &= ~FlagBit.IF
            } else {
                if s.pointee.rflags & FlagBit.IF == 0 { s.pointee.intr_shadow = 1 }
                s.pointee.rflags |= FlagBit.IF
            }
        default:
            countUnimplemented(d)
            throw Fault.undefined
        }
    }
}

/// The CPUID model presented to the guest.
public struct CPUIDModel: Sendable {
    public init() {}
}
