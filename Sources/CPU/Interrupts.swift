import CPUState

// Protected-mode and long-mode interrupt/exception delivery through the IDT.

extension CPU {
    func deliverProtected(_ vector: UInt8, source: InterruptSource, code: UInt32?) throws(Fault) {
        throw Fault.gp(UInt32(vector) * 8 + 2)
    }
}
