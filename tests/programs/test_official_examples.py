"""Programs written the way pytorch/examples writes them (the MNIST CNN with its accelerator
preamble, Adadelta and StepLR; the VAE; the LSTMCell sine predictor trained with LBFGS), run
unmodified with ``torch`` bound to torch and to chainrule, from the same weights and data:
the losses must match step by step. Synthetic data stands in for the datasets (no network)."""

import numpy as np
import pytest
import torch as real_torch

import chainrule


def same_weights(model, init, lib):
    """Load ``init`` (arrays) into ``model``, or return the model's own initial arrays."""
    if init is not None:
        model.load_state_dict({k: lib.tensor(v) for k, v in init.items()})
    return {k: v.detach().numpy().copy() for k, v in model.state_dict().items()}


# ----------------------------------------------------------------- examples/mnist/main.py


def mnist_program(torch, init_from=None, steps=2):
    nn, F, optim = torch.nn, torch.nn.functional, torch.optim
    from_torch = init_from

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv1 = nn.Conv2d(1, 32, 3, 1)
            self.conv2 = nn.Conv2d(32, 64, 3, 1)
            self.dropout1 = nn.Dropout(0.25)
            self.dropout2 = nn.Dropout(0.5)
            self.fc1 = nn.Linear(9216, 128)
            self.fc2 = nn.Linear(128, 10)

        def forward(self, x):
            x = self.conv1(x)
            x = F.relu(x)
            x = self.conv2(x)
            x = F.relu(x)
            x = F.max_pool2d(x, 2)
            x = self.dropout1(x)
            x = torch.flatten(x, 1)
            x = self.fc1(x)
            x = F.relu(x)
            x = self.dropout2(x)
            x = self.fc2(x)
            output = F.log_softmax(x, dim=1)
            return output

    use_accel = torch.accelerator.is_available()
    device = torch.accelerator.current_accelerator() if use_accel else torch.device("cpu")
    model = Net().to(device)
    init = same_weights(model, from_torch, torch)
    optimizer = optim.Adadelta(model.parameters(), lr=1.0)
    scheduler = optim.lr_scheduler.StepLR(optimizer, step_size=1, gamma=0.7)
    rng = np.random.default_rng(0)
    data = torch.tensor(rng.normal(size=(steps, 4, 1, 28, 28)).astype(np.float32))
    target = torch.tensor(rng.integers(0, 10, (steps, 4)))
    model.eval()  # dropout off: the two libraries draw different masks
    losses = []
    for _epoch in range(2):
        for batch_idx in range(steps):
            x, y = data[batch_idx].to(device), target[batch_idx].to(device)
            optimizer.zero_grad()
            output = model(x)
            loss = F.nll_loss(output, y)
            loss.backward()
            optimizer.step()
            losses.append(loss.item())
        scheduler.step()
    with torch.no_grad():
        test_loss = F.nll_loss(model(data[0]), target[0], reduction="sum").item()
        pred = model(data[0]).argmax(dim=1, keepdim=True)
        correct = pred.eq(target[0].view_as(pred)).sum().item()
    return init, losses + [test_loss], correct


# ----------------------------------------------------------------- examples/vae/main.py


def vae_program(torch, init_from=None, steps=4):
    nn, F, optim = torch.nn, torch.nn.functional, torch.optim

    class VAE(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc1 = nn.Linear(784, 400)
            self.fc21 = nn.Linear(400, 20)
            self.fc22 = nn.Linear(400, 20)
            self.fc3 = nn.Linear(20, 400)
            self.fc4 = nn.Linear(400, 784)

        def encode(self, x):
            h1 = F.relu(self.fc1(x))
            return self.fc21(h1), self.fc22(h1)

        def reparameterize(self, mu, logvar, eps):
            std = torch.exp(0.5 * logvar)
            return mu + eps * std  # the example draws eps = torch.randn_like(std)

        def decode(self, z):
            h3 = F.relu(self.fc3(z))
            return torch.sigmoid(self.fc4(h3))

        def forward(self, x, eps):
            mu, logvar = self.encode(x.view(-1, 784))
            z = self.reparameterize(mu, logvar, eps)
            return self.decode(z), mu, logvar

    def loss_function(recon_x, x, mu, logvar):
        BCE = F.binary_cross_entropy(recon_x, x.view(-1, 784), reduction="sum")
        KLD = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())
        return BCE + KLD

    model = VAE()
    init = same_weights(model, init_from, torch)
    optimizer = optim.Adam(model.parameters(), lr=1e-3)
    rng = np.random.default_rng(1)
    data = torch.tensor(rng.uniform(size=(steps, 16, 1, 28, 28)).astype(np.float32))
    eps = torch.tensor(rng.normal(size=(steps, 16, 20)).astype(np.float32))
    assert torch.randn_like(eps[0]).shape == eps[0].shape
    model.train()
    losses = []
    for i in range(steps):
        optimizer.zero_grad()
        recon_batch, mu, logvar = model(data[i], eps[i])
        loss = loss_function(recon_batch, data[i], mu, logvar)
        loss.backward()
        optimizer.step()
        losses.append(loss.item() / len(data[i]))
    return init, losses


# ------------------------------------------------- examples/time_sequence_prediction/train.py


def sine_program(torch, init_from=None, steps=3):
    nn, optim = torch.nn, torch.optim

    class Sequence(nn.Module):
        def __init__(self):
            super().__init__()
            self.lstm1 = nn.LSTMCell(1, 51)
            self.lstm2 = nn.LSTMCell(51, 51)
            self.linear = nn.Linear(51, 1)

        def forward(self, input, future=0):
            outputs = []
            h_t = torch.zeros(input.size(0), 51, dtype=torch.double)
            c_t = torch.zeros(input.size(0), 51, dtype=torch.double)
            h_t2 = torch.zeros(input.size(0), 51, dtype=torch.double)
            c_t2 = torch.zeros(input.size(0), 51, dtype=torch.double)
            for input_t in input.split(1, dim=1):
                h_t, c_t = self.lstm1(input_t, (h_t, c_t))
                h_t2, c_t2 = self.lstm2(h_t, (h_t2, c_t2))
                output = self.linear(h_t2)
                outputs += [output]
            for _i in range(future):
                h_t, c_t = self.lstm1(output, (h_t, c_t))
                h_t2, c_t2 = self.lstm2(h_t, (h_t2, c_t2))
                output = self.linear(h_t2)
                outputs += [output]
            outputs = torch.cat(outputs, dim=1)
            return outputs

    T, L, N = 20, 100, 12
    x = np.empty((N, L), "int64")
    x[:] = np.array(range(L)) + np.random.default_rng(2).integers(-4 * T, 4 * T, N).reshape(N, 1)
    data = np.sin(x / 1.0 / T).astype("float64")
    input = torch.from_numpy(data[3:, :-1])
    target = torch.from_numpy(data[3:, 1:])
    test_input = torch.from_numpy(data[:3, :-1])
    seq = Sequence()
    seq.double()
    init = same_weights(seq, init_from, torch)
    criterion = nn.MSELoss()
    optimizer = optim.LBFGS(seq.parameters(), lr=0.8)
    losses = []
    for _ in range(steps):

        def closure():
            optimizer.zero_grad()
            out = seq(input)
            loss = criterion(out, target)
            losses.append(loss.item())
            loss.backward()
            return loss

        optimizer.step(closure)
        with torch.no_grad():
            future = 10
            pred = seq(test_input, future=future)
            loss = criterion(pred[:, :-future], target[:3])
            losses.append(loss.item())
    return init, losses


@pytest.mark.parametrize("program", [mnist_program, vae_program, sine_program])
def test_official_example_runs_unmodified_with_torchs_losses(program):
    real_torch.manual_seed(0)
    theirs = program(real_torch)
    ours = program(chainrule, init_from=theirs[0])
    # float32 programs: the same math, summed in another order (Adadelta with lr=1 and
    # Adam amplify the last bits a little each step); a wrong rule is off by far more
    np.testing.assert_allclose(ours[1], theirs[1], rtol=2e-5)
    assert ours[2:] == theirs[2:]
