"""Describe the machine a benchmark ran on, for the JSON line it prints."""
import os
import platform


def machine() -> dict:
    info = dict(cpu=platform.processor() or platform.machine(),
                cores=os.cpu_count(), python=platform.python_version())
    try:
        with open('/proc/cpuinfo') as f:
            for line in f:
                if line.startswith('model name'):
                    info['cpu'] = line.split(':', 1)[1].strip()
                    break
    except OSError:
        pass
    try:
        import torch
        info['torch'] = torch.__version__
        info['threads'] = torch.get_num_threads()
        if torch.cuda.is_available():
            info['gpu'] = torch.cuda.get_device_name(0)
    except ImportError:
        pass
    return info
