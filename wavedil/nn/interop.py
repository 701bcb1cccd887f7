def from_pytorch_tcn(model):
    raise NotImplementedError
