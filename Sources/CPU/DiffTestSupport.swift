#if arch(x86_64)
import CPUState

// State transfer for the differential tester: the x87/SSE state in and out as a 64-bit FXSAVE
// image (the layout XSAVE64 writes), through the same code FXSAVE64/FXRSTOR64 use.

extension CPU {
    /// The 512-byte FXSAVE64 image of the current x87 and SSE state (64-bit FIP/FDP form).
    public func fxsave64Image() -> [UInt8] {
        var d = Instr()
        d.rex = 0x48
        return fxImage(d)
    }

    /// Loads the x87 and SSE state from a 512-byte FXSAVE64 image (MXCSR taken as is).
    public func loadFXSave64Image(_ b: [UInt8]) {
        var d = Instr()
        d.rex = 0x48
        s.pointee.mxcsr = UInt32(x87Get(b, 24, 4))
        fxLoadX87(b, d)
        fxLoadXMM(b)
    }
}
#endif
