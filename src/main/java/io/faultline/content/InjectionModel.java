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
 * with two adjacent byte reads per feature, plus one small int array per call. Immutable and thread-safe.
 */
public final class InjectionModel {

    public static final String RESOURCE = "/io/faultline/content/injection-model.bin";
    static final int MAGIC = 0x464C494D; // "FLIM"
    static final int VERSION = 1;
    public static final int HEADS = 3;
    /** Injection written into a user turn: read on the latest user messages. */
    public static final int DIRECT = 0;
    /** Injection planted in content the application feeds the model: read on tool results and documents only. */
    public static final int INDIRECT = 1;
    public static final int JAILBREAK = 2;

    private final int mask;
    private final float scale;
    private final float[] bias;
    /** weights[bucket * HEADS + head], quantised: the real weight is {@code weight * scale}. */
    private final byte[] weights;

    InjectionModel(int bits, float scale, float[] bias, byte[] weights) {
        if (weights.length != (1 << bits) * HEADS || bias.length != HEADS) {
            throw new IllegalArgumentException("weights do not match " + bits + " bits and " + HEADS + " heads");
        }
        this.mask = (1 << bits) - 1;
        this.scale = scale;
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
        float scale = in.readFloat();
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
     * The two heads' probabilities for a text (already capped and cleaned by the caller), with the window each came
     * from.
     */
    public Score score(CharSequence text) {
        int n = text.length();
        if (n == 0) {
            return Score.NONE;
        }
        int blocks = (n - 1) / InjectionFeatures.BLOCK + 1;
        // per block: the three heads' sums, then the feature count
        int[] sums = new int[blocks * STRIDE];
        InjectionFeatures.extract(text, (block, family, hash) -> {
            int at = (hash & mask) * HEADS;
            int b = block * STRIDE;
            sums[b] += weights[at];
            sums[b + 1] += weights[at + 1];
            sums[b + 2] += weights[at + 2];
            sums[b + 3]++;
        });
        double d = Double.NEGATIVE_INFINITY;
        double i = Double.NEGATIVE_INFINITY;
        double j = Double.NEGATIVE_INFINITY;
        int dw = 0;
        int iw = 0;
        int jw = 0;
        int windows = Math.max(1, blocks - 1);
        for (int w = 0; w < windows; w++) {
            int a = w * STRIDE;
            boolean pair = w + 1 < blocks;
            int count = sums[a + 3] + (pair ? sums[a + STRIDE + 3] : 0);
            if (count == 0) {
                continue;
            }
            double norm = scale / Math.sqrt(count);
            double ld = bias[0] + (sums[a] + (pair ? sums[a + STRIDE] : 0)) * norm;
            double li = bias[1] + (sums[a + 1] + (pair ? sums[a + STRIDE + 1] : 0)) * norm;
            double lj = bias[2] + (sums[a + 2] + (pair ? sums[a + STRIDE + 2] : 0)) * norm;
            if (ld > d) {
                d = ld;
                dw = w;
            }
            if (li > i) {
                i = li;
                iw = w;
            }
            if (lj > j) {
                j = lj;
                jw = w;
            }
        }
        if (d == Double.NEGATIVE_INFINITY) {
            return Score.NONE;
        }
        return new Score(sigmoid(d), sigmoid(i), sigmoid(j), dw, iw, jw);
    }

    /**
     * The {@code k} features of the window that pushed a head's score up the most, as family:bucket ids (never the
     * text): a second pass over that window only, for evidence.
     */
    public List<String> topFeatures(CharSequence text, int head, int window, int k) {
        int start = window * InjectionFeatures.BLOCK;
        int end = Math.min(text.length(), start + 2 * InjectionFeatures.BLOCK);
        if (start >= end) {
            return List.of();
        }
        int[] topBucket = new int[k];
        int[] topFamily = new int[k];
        int[] topWeight = new int[k];
        java.util.Arrays.fill(topBucket, -1);
        InjectionFeatures.extract(text.subSequence(start, end), (block, family, hash) -> {
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

    /** The heads' probabilities (0 to 1) and the window (index of its first block) each was read from. */
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
