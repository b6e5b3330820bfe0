package io.faultline.eval;

/** A binary confusion matrix and the figures read off it. */
public record Confusion(int tp, int fp, int fn, int tn) {

    public static final Confusion EMPTY = new Confusion(0, 0, 0, 0);

    public Confusion add(boolean expected, boolean predicted) {
        return new Confusion(tp + (expected && predicted ? 1 : 0), fp + (!expected && predicted ? 1 : 0),
                fn + (expected && !predicted ? 1 : 0), tn + (!expected && !predicted ? 1 : 0));
    }

    public int total() {
        return tp + fp + fn + tn;
    }

    public double precision() {
        return tp + fp == 0 ? 1.0 : (double) tp / (tp + fp);
    }

    public double recall() {
        return tp + fn == 0 ? 1.0 : (double) tp / (tp + fn);
    }

    public double f1() {
        double p = precision();
        double r = recall();
        return p + r == 0 ? 0 : 2 * p * r / (p + r);
    }

    public double accuracy() {
        return total() == 0 ? 0 : (double) (tp + tn) / total();
    }
}
