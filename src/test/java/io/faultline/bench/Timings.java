package io.faultline.bench;

import java.util.Arrays;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.function.Supplier;

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

    /**
     * µs per run of each piece of work: each runs {@code 3 * perRound} times to warm up, then 9 rounds interleave
     * them ({@code perRound} runs of each per round), so that the load of a shared machine falls on all alike; the
     * median round of each is kept. What the works return is kept alive, so that no run is optimised away.
     */
    static double[] interleavedMicros(int perRound, List<? extends Supplier<?>> works) {
        Object sink = null;
        for (Supplier<?> work : works) {
            for (int i = 0; i < perRound * 3; i++) {
                sink = work.get();
            }
        }
        double[][] rounds = new double[works.size()][ROUNDS];
        for (int round = 0; round < ROUNDS; round++) {
            for (int w = 0; w < works.size(); w++) {
                long t = System.nanoTime();
                for (int i = 0; i < perRound; i++) {
                    sink = works.get(w).get();
                }
                rounds[w][round] = (System.nanoTime() - t) / 1e3 / perRound;
            }
        }
        if (sink == null) {
            throw new IllegalStateException("every timed work must return a value");
        }
        double[] out = new double[works.size()];
        for (int w = 0; w < works.size(); w++) {
            Arrays.sort(rounds[w]);
            out[w] = rounds[w][ROUNDS / 2];
        }
        return out;
    }

    static final int ROUNDS = 9;
}
