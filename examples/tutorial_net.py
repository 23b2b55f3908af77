"""A 784 -> 10 -> 10 network in the style of the video tutorial the learning log followed: plain
functions, (features, samples) layout, one column per image. This one is correct; check it with

    python -m experiments.check network=notebook network.source=examples/tutorial_net.py

The harness calls the four functions below; gradient_descent is the file's own loop, which the check
runs for a few iterations. Run the file itself to train it on MNIST (the harness's loader).
"""

import numpy as np


def init_params():
    W1 = np.random.rand(10, 784) - 0.5
    b1 = np.zeros((10, 1))
    W2 = np.random.rand(10, 10) - 0.5
    b2 = np.zeros((10, 1))
    return W1, b1, W2, b2


def ReLU(Z):
    return np.maximum(Z, 0)


def softmax(Z):
    expZ = np.exp(Z - Z.max(axis=0, keepdims=True))  # minus the column's max: exp stays finite
    return expZ / expZ.sum(axis=0, keepdims=True)


def forward_prop(W1, b1, W2, b2, X):
    Z1 = W1.dot(X) + b1
    A1 = ReLU(Z1)
    Z2 = W2.dot(A1) + b2
    A2 = softmax(Z2)
    return Z1, A1, Z2, A2


def ReLU_deriv(Z):
    return Z > 0


def one_hot(Y):
    one_hot_Y = np.zeros((10, Y.size))
    one_hot_Y[Y, np.arange(Y.size)] = 1
    return one_hot_Y


def backward_prop(Z1, A1, Z2, A2, W1, W2, X, Y):
    m = Y.size
    dZ2 = A2 - one_hot(Y)
    dW2 = 1 / m * dZ2.dot(A1.T)
    db2 = 1 / m * np.sum(dZ2, axis=1, keepdims=True)
    dZ1 = W2.T.dot(dZ2) * ReLU_deriv(Z1)
    dW1 = 1 / m * dZ1.dot(X.T)
    db1 = 1 / m * np.sum(dZ1, axis=1, keepdims=True)
    return dW1, db1, dW2, db2


def update_params(W1, b1, W2, b2, dW1, db1, dW2, db2, alpha):
    W1 = W1 - alpha * dW1
    b1 = b1 - alpha * db1
    W2 = W2 - alpha * dW2
    b2 = b2 - alpha * db2
    return W1, b1, W2, b2


def get_predictions(A2):
    return np.argmax(A2, 0)


def get_accuracy(predictions, Y):
    return np.sum(predictions == Y) / Y.size


def gradient_descent(X, Y, alpha, iterations):
    W1, b1, W2, b2 = init_params()
    for i in range(iterations):
        Z1, A1, Z2, A2 = forward_prop(W1, b1, W2, b2, X)
        dW1, db1, dW2, db2 = backward_prop(Z1, A1, Z2, A2, W1, W2, X, Y)
        W1, b1, W2, b2 = update_params(W1, b1, W2, b2, dW1, db1, dW2, db2, alpha)
        if i % 50 == 0:
            print("Iteration:", i, "accuracy:", get_accuracy(get_predictions(A2), Y))
    return W1, b1, W2, b2


if __name__ == "__main__":
    from nnscratch.datasets import data_config, load

    mnist = load(data_config("mnist"))
    X_train = mnist.X_train[:, :5000].astype("float32") / 255.0
    Y_train = mnist.y_train[:5000]
    gradient_descent(X_train, Y_train, 0.10, 500)
