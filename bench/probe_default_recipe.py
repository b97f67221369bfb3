"""Probe a pretraining recipe on the demo: held-out masked error, then untrained VVP/GT AUROC.

Usage: python bench/probe_default_recipe.py NAME MAX_SEQ_LEN EPOCHS D_MODEL LAYERS
Writes the checkpoint to /tmp/NAME. Regulator -> gene pairs, all 30 regulators.
"""
import sys, torch, numpy as np
from pathlib import Path
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
torch.set_num_threads(1)
from sklearn.metrics import roc_auc_score
from ugrn_core.data.simulate import simulate_demo
from ugrn_core.data.preprocess import preprocess, dense_matrix
from ugrn_core.models.pretrain import pretrain, PretrainConfig, format_metrics, save_pretrained
from ugrn_core.models.foundation import load_model
from ugrn_core.extract import extract_features
name, seq, ep, d, L = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
a,net=simulate_demo(); a,_=preprocess(a); g=list(a.var_names)
X=dense_matrix(a,g)
r=pretrain(X,g,PretrainConfig(epochs=ep,d_model=d,nlayers=L,d_hid=2*d,max_seq_len=seq),device="cpu")
print(name, format_metrics(r.metrics), flush=True)
save_pretrained(r, f"/tmp/{name}", "demo")
m=load_model(f"/tmp/{name}","cpu")
regs=[x for x in g if x.startswith("TF")]
truth=set(zip(net.source,net.target))
C=np.corrcoef(X.T); idx={x:i for i,x in enumerate(g)}
for meth in ["vvp","gt"]:
    f=extract_features(meth,m,g,sources=regs)
    y=[];s=[];p=[]
    for i,r_ in enumerate(regs):
        for j,t in enumerate(g):
            if r_==t: continue
            y.append((r_,t) in truth); s.append(f.score[i,j]); p.append(abs(C[idx[r_],idx[t]]))
    print(name, meth, "AUROC", round(roc_auc_score(y,s),3), "pearson", round(roc_auc_score(y,p),3), flush=True)
