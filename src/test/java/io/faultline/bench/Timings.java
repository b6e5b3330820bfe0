package io.faultline.bench;

import java.util.Arrays;
import java.util.concurrent.Callable;

/** Times a piece of work the way the benches report it: 2 warm-up runs, then the median and the max of 7. */
final class Timings {

    private Timings() {
    }

    /** {median ms, max ms} of 7 runs after 2 warm-ups. */
    static double[] medianAndMax(Callable<?> work) throws Exception {
        for (int i = 0; i < 2; i++) {
            work.call();
        }
        long[] nanos = new long[7];
        for (int i = 0; i < nanos.length; i++) {
            long t = System.nanoTime();
            work.call();
            nanos[i] = System.nanoTime() - t;
        }
        Arrays.sort(nanos);
        return new double[] { nanos[nanos.length / 2] / 1e6, nanos[nanos.length - 1] / 1e6 };
    }
}
