package io.faultline.content;

import java.io.BufferedInputStream;
import java.io.DataInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.List;

/**
 * The learned half of the injection detector: three logistic regressions (direct injection, indirect injection,
 * jailbreak) over the hashed
 * features of {@link InjectionFeatures}, with int8 weights shipped as the resource {@link #RESOURCE} (trained by
 * {@code make train-injection}; sources, licences, splits and figures in train/injection/DATA_CARD.md).
 *
 * <p>A text is scored in overlapping windows of two {@link InjectionFeatures#BLOCK blocks} and its score is the best
 * window's, so an instruction hidden in a long document is not diluted by the document. Cost: one pass over the text
 * with three adjacent byte reads per feature, plus one small object and int array per call. Immutable and thread-safe.
 */
public final class InjectionModel {

    public static final String RESOURCE = "/io/faultline/content/injection-model.bin";
    static final int MAGIC = 0x464C494D; // "FLIM"
    static final int VERSION = 3;
    public static final int HEADS = 3;
    /** Injection written into a user turn: read on the latest user messages. */
    public static final int DIRECT = 0;
    /** Injection planted in content the application feeds the model: read on tool results and documents only. */
    public static final int INDIRECT = 1;
    public static final int JAILBREAK = 2;

    private final int mask;
    /** Per head: what one step of its quantised weights is worth. */
    private final float[] scale;
    private final float[] bias;
    /** weights[bucket * HEADS + head], quantised: the real weight is {@code weight * scale[head]}. */
    private final byte[] weights;

    InjectionModel(int bits, float[] scale, float[] bias, byte[] weights) {
        if (weights.length != (1 << bits) * HEADS || bias.length != HEADS || scale.length != HEADS) {
            throw new IllegalArgumentException("weights do not match " + bits + " bits and " + HEADS + " heads");
        }
        this.mask = (1 << bits) - 1;
        this.scale = scale.clone();
        this.bias = bias.clone();
        this.weights = weights;
    }

    /** The shipped model, read from the classpath (no reflection: plain getResourceAsStream, native-friendly). */
    public static InjectionModel load() {
        try (InputStream in = InjectionModel.class.getResourceAsStream(RESOURCE)) {
            if (in == null) {
                throw new IllegalStateException("injection model resource missing: " + RESOURCE);
            }
            return read(in);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    static InjectionModel read(InputStream raw) throws IOException {
        DataInputStream in = new DataInputStream(new BufferedInputStream(raw));
        if (in.readInt() != MAGIC || in.readInt() != VERSION) {
            throw new IOException("not an injection model of version " + VERSION);
        }
        int bits = in.readInt();
        int heads = in.readInt();
        if (bits < 8 || bits > 24 || heads != HEADS) {
            throw new IOException("unexpected model shape: " + bits + " bits, " + heads + " heads");
        }
        float[] scale = new float[heads];
        for (int h = 0; h < heads; h++) {
            scale[h] = in.readFloat();
        }
        float[] bias = new float[heads];
        for (int h = 0; h < heads; h++) {
            bias[h] = in.readFloat();
        }
        byte[] weights = new byte[(1 << bits) * heads];
        in.readFully(weights);
        return new InjectionModel(bits, scale, bias, weights);
    }

    public int bits() {
        return Integer.numberOfTrailingZeros(mask + 1);
    }

    public int bucket(int hash) {
        return hash & mask;
    }

    /**
     * The heads' probabilities for a text (already capped and cleaned by the caller), with the window or segment each
     * came from. Every head reads overlapping windows of two blocks; the direct and indirect heads also read each
     * segment (a sentence or line of at least {@link InjectionFeatures#MIN_SEGMENT} characters and
     * {@link #MIN_SEGMENT_FEATURES} features) on its own, so that one planted sentence in a table or an e-mail, or an
     * override after a harmless question, is not diluted by its neighbours. Only the indirect head's best segment is
     * set against the text's other segments (contrast): a user turn that is all requests is still a request.
     */
    public Score score(CharSequence text) {
        int n = text.length();
        if (n == 0) {
            return Score.NONE;
        }
        int blocks = (n - 1) / InjectionFeatures.BLOCK + 1;
        Sums sums = new Sums(blocks);
        InjectionFeatures.extract(text, sums);
        sums.flush();
        int[] block = sums.blocks;
        double[] best = {Double.NEGATIVE_INFINITY, Double.NEGATIVE_INFINITY, Double.NEGATIVE_INFINITY};
        int[] from = new int[HEADS];
        int windows = Math.max(1, blocks - 1);
        for (int w = 0; w < windows; w++) {
            int a = w * STRIDE;
            boolean pair = w + 1 < blocks;
            int count = block[a + 3] + (pair ? block[a + STRIDE + 3] : 0);
            if (count == 0) {
                continue;
            }
            double norm = 1 / Math.sqrt(count);
            for (int h = 0; h < HEADS; h++) {
                double logit = bias[h] + (block[a + h] + (pair ? block[a + STRIDE + h] : 0)) * scale[h] * norm;
                if (logit > best[h]) {
                    best[h] = logit;
                    from[h] = w;
                }
            }
        }
        if (best[0] == Double.NEGATIVE_INFINITY) {
            return Score.NONE;
        }
        if (sums.bestDirectLogit > best[DIRECT]) {
            best[DIRECT] = sums.bestDirectLogit;
            from[DIRECT] = -1 - sums.bestDirectSegment;
        }
        if (sums.bestLogit > best[INDIRECT]) {
            best[INDIRECT] = sums.bestLogit;
            from[INDIRECT] = -1 - sums.bestSegment;
        }
        if (sums.scored >= 2) {
            double meanOthers = (sums.logitSum - sums.bestLogit) / (sums.scored - 1);
            best[INDIRECT] -= CONTRAST * (meanOthers - bias[INDIRECT]);
        }
        return new Score(sigmoid(best[0]), sigmoid(best[1]), sigmoid(best[2]), from[0], from[1], from[2]);
    }

    /** A segment needs this many features (about 20 characters of text) to be scored on its own. */
    public static final int MIN_SEGMENT_FEATURES = 60;
    /**
     * How much of the document's typical segment the indirect head subtracts from its best window or segment: a
     * planted instruction stands out from the document it sits in, while a document that is all requests (an e-mail
     * thread, a how-to) does not. Chosen on the trainer's validation split (0, 0.5, 1, 1.5, 2, 2.5, 3.5: recall at a
     * 5% document false-positive rate 0.31, 0.39, 0.52, 0.65, 0.72, 0.69, 0.61).
     */
    static final double CONTRAST = 2.0;

    /**
     * The running sums of one {@link #score} pass: per block the three heads' sums and the feature count, and the
     * direct and indirect heads' running segment. The current block and segment are kept in fields and written out
     * when they end, so that a feature costs three weight reads and a few additions.
     */
    private final class Sums implements InjectionFeatures.Sink {
        final int[] blocks;
        private int block;
        private int s0;
        private int s1;
        private int s2;
        private int count;
        private int segment;
        private int indirectSegmentSum;
        private int directSegmentSum;
        private int segmentCount;
        int bestSegment = -1;
        int bestDirectSegment = -1;
        double bestDirectLogit = Double.NEGATIVE_INFINITY;
        double bestLogit = Double.NEGATIVE_INFINITY;
        double logitSum;
        int scored;

        Sums(int blocks) {
            this.blocks = new int[blocks * STRIDE];
        }

        @Override
        public void accept(int at, int seg, int family, int hash) {
            int w = (hash & mask) * HEADS;
            int b = at >>> BLOCK_SHIFT;
            if (b != block) {
                flushBlock();
                block = b;
            }
            if (seg != segment) {
                closeSegment();
                segment = seg;
            }
            byte w1 = weights[w + 1];
            byte w0 = weights[w];
            s0 += w0;
            directSegmentSum += w0;
            s1 += w1;
            s2 += weights[w + 2];
            count++;
            indirectSegmentSum += w1;
            segmentCount++;
        }

        private void flushBlock() {
            int a = block * STRIDE;
            blocks[a] += s0;
            blocks[a + 1] += s1;
            blocks[a + 2] += s2;
            blocks[a + 3] += count;
            s0 = 0;
            s1 = 0;
            s2 = 0;
            count = 0;
        }

        void flush() {
            flushBlock();
            closeSegment();
        }

        private void closeSegment() {
            if (segmentCount >= MIN_SEGMENT_FEATURES) {
                double norm = 1 / Math.sqrt(segmentCount);
                double logit = bias[INDIRECT] + indirectSegmentSum * scale[INDIRECT] * norm;
                if (logit > bestLogit) {
                    bestLogit = logit;
                    bestSegment = segment;
                }
                logitSum += logit;
                scored++;
                double direct = bias[DIRECT] + directSegmentSum * scale[DIRECT] * norm;
                if (direct > bestDirectLogit) {
                    bestDirectLogit = direct;
                    bestDirectSegment = segment;
                }
            }
            directSegmentSum = 0;
            indirectSegmentSum = 0;
            segmentCount = 0;
        }
    }

    private static final int BLOCK_SHIFT = Integer.numberOfTrailingZeros(InjectionFeatures.BLOCK);

    /**
     * The {@code k} features of the window or segment a head's score came from ({@link Score#window(int)}) that
     * pushed it up the most, as family:bucket ids (never the text): a second pass, for evidence only.
     */
    public List<String> topFeatures(CharSequence text, int head, int window, int k) {
        int[] topBucket = new int[k];
        int[] topFamily = new int[k];
        int[] topWeight = new int[k];
        java.util.Arrays.fill(topBucket, -1);
        InjectionFeatures.extract(text, (at, seg, family, hash) -> {
            boolean inside = window >= 0 ? at / InjectionFeatures.BLOCK - window == 0
                    || at / InjectionFeatures.BLOCK - window == 1 : seg == -1 - window;
            if (!inside) {
                return;
            }
            int bucket = hash & mask;
            int weight = weights[bucket * HEADS + head];
            if (weight <= 0) {
                return;
            }
            for (int i = 0; i < k; i++) {
                if (topBucket[i] == bucket) {
                    return;
                }
            }
            for (int i = 0; i < k; i++) {
                if (topBucket[i] < 0 || weight > topWeight[i]) {
                    for (int j = k - 1; j > i; j--) {
                        topBucket[j] = topBucket[j - 1];
                        topFamily[j] = topFamily[j - 1];
                        topWeight[j] = topWeight[j - 1];
                    }
                    topBucket[i] = bucket;
                    topFamily[i] = family;
                    topWeight[i] = weight;
                    return;
                }
            }
        });
        List<String> out = new ArrayList<>(k);
        for (int i = 0; i < k && topBucket[i] >= 0; i++) {
            out.add(InjectionFeatures.id(topFamily[i], topBucket[i]));
        }
        return out;
    }

    private static final int STRIDE = HEADS + 1;

    private static double sigmoid(double x) {
        return 1 / (1 + Math.exp(-x));
    }

    /**
     * The heads' probabilities (0 to 1) and where each was read: a window (the index of its first block, 0 or more)
     * or a segment {@code s} (the direct and indirect heads read segments too), encoded as {@code -1 - s}.
     */
    public record Score(double direct, double indirect, double jailbreak, int directWindow, int indirectWindow,
            int jailbreakWindow) {

        public static final Score NONE = new Score(0, 0, 0, 0, 0, 0);

        public double of(int head) {
            return head == DIRECT ? direct : head == INDIRECT ? indirect : jailbreak;
        }

        public int window(int head) {
            return head == DIRECT ? directWindow : head == INDIRECT ? indirectWindow : jailbreakWindow;
        }
    }
}
