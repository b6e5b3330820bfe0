package io.faultline.testing;

import java.lang.management.ManagementFactory;

/** What the JVM's threads allocated: the memory a request made the service use, measured, not guessed. */
public final class Allocations {

    private Allocations() {
    }

    /** Bytes allocated so far by the threads alive now (com.sun.management: HotSpot counts per thread). */
    public static long byAllThreads() {
        com.sun.management.ThreadMXBean threads = (com.sun.management.ThreadMXBean) ManagementFactory
                .getThreadMXBean();
        long total = 0;
        for (long bytes : threads.getThreadAllocatedBytes(threads.getAllThreadIds())) {
            total += Math.max(0, bytes);
        }
        return total;
    }
}
