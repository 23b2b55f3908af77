"""Is it my code or my config? python -m experiments.check network=notebook network.source=my_net.py

Checks a network of your own in seconds, before any sweep (nnscratch.networks.checks); exits 0 when it
finds nothing, 1 when it finds something, 2 when it cannot run the checks (bad config or file).
"""

import sys

import hydra
from omegaconf import DictConfig, OmegaConf

from nnscratch.config.checks import ConfigError, check
from nnscratch.data import DataError
from nnscratch.network import Activation
from nnscratch.networks.checks import check_network
from nnscratch.networks.loading import NetworkFileError, load_notebook
from nnscratch.run.prepared import prepare_for


@hydra.main(config_path="../conf", config_name="check", version_base="1.3")
def main(cfg: DictConfig) -> None:
    config = OmegaConf.to_container(cfg, resolve=True)
    try:
        if config["network"]["name"] == "builtin":
            raise ConfigError("nothing to check: give your network, network=notebook network.source=<your .py>")
        check(config)
        nb = load_notebook(config["network"])
        data = prepare_for(config)
    except (ConfigError, DataError, NetworkFileError) as err:
        print(f"error: {err}", file=sys.stderr)
        sys.exit(2)
    print(f"checking {config['network']['source']} (sha256 {nb.sha256[:12]}) on {config['data']['name']}:")
    report = check_network(nb, data, Activation(**config["activation"]), config["seed"])
    print("\n".join(f"  {line}" for line in report.lines()))
    n = len(report.findings)
    verdict = "nothing found" if not n else f"{n} finding{'s' * (n != 1)}: the cause is in the code"
    print(f"{verdict} ({report.seconds:.1f} s)")
    sys.exit(1 if n else 0)


if __name__ == "__main__":
    main()
